//! [`NluRepo`] and [`FlowRepo`] for the in-memory store.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl NluRepo for InMemoryStore {
    async fn create_intent(&self, org: OrgId, bot: BotId, new: NewIntent) -> StoreResult<Intent> {
        let now = self.now();
        let mut data = self.data();
        data.bot_of(org, bot)?;
        name_taken(
            data.intents
                .values()
                .filter(|i| i.bot_id == bot)
                .map(|i| i.name.as_str()),
            &new.name,
        )?;
        let intent = Intent {
            id: IntentId::new(),
            org_id: org,
            bot_id: bot,
            name: new.name,
            examples: new.examples,
            created_at: now,
            updated_at: now,
        };
        data.intents.insert(intent.id, intent.clone());
        data.record_change(Change::Bot { org, bot }, now);
        Ok(intent)
    }

    async fn list_intents(&self, org: OrgId, bot: BotId) -> StoreResult<Vec<Intent>> {
        let data = self.data();
        data.bot_of(org, bot)?;
        Ok(data
            .intents
            .values()
            .filter(|i| i.bot_id == bot)
            .cloned()
            .collect())
    }

    async fn get_intent(&self, org: OrgId, bot: BotId, intent: IntentId) -> StoreResult<Intent> {
        let data = self.data();
        data.intents
            .get(&intent)
            .filter(|i| i.org_id == org && i.bot_id == bot)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn update_intent(
        &self,
        org: OrgId,
        bot: BotId,
        intent: IntentId,
        patch: IntentPatch,
    ) -> StoreResult<Intent> {
        let now = self.now();
        let mut data = self.data();
        self.get_intent_in(&data, org, bot, intent)?;
        if let Some(name) = &patch.name {
            name_taken(
                data.intents
                    .values()
                    .filter(|i| i.bot_id == bot && i.id != intent)
                    .map(|i| i.name.as_str()),
                name,
            )?;
        }
        let stored = data.intents.get_mut(&intent).ok_or(StoreError::NotFound)?;
        if let Some(name) = patch.name {
            stored.name = name;
        }
        if let Some(examples) = patch.examples {
            stored.examples = examples;
        }
        stored.updated_at = now;
        let updated = stored.clone();
        data.record_change(Change::Bot { org, bot }, now);
        Ok(updated)
    }

    async fn delete_intent(&self, org: OrgId, bot: BotId, intent: IntentId) -> StoreResult<()> {
        let mut data = self.data();
        self.get_intent_in(&data, org, bot, intent)?;
        data.intents.remove(&intent);
        data.record_change(Change::Bot { org, bot }, self.now());
        Ok(())
    }

    async fn create_entity(&self, org: OrgId, bot: BotId, new: NewEntity) -> StoreResult<Entity> {
        let now = self.now();
        let mut data = self.data();
        data.bot_of(org, bot)?;
        name_taken(
            data.entities
                .values()
                .filter(|e| e.bot_id == bot)
                .map(|e| e.name.as_str()),
            &new.name,
        )?;
        let entity = Entity {
            id: EntityId::new(),
            org_id: org,
            bot_id: bot,
            name: new.name,
            kind: new.kind,
            created_at: now,
            updated_at: now,
        };
        data.entities.insert(entity.id, entity.clone());
        data.record_change(Change::Bot { org, bot }, now);
        Ok(entity)
    }

    async fn list_entities(&self, org: OrgId, bot: BotId) -> StoreResult<Vec<Entity>> {
        let data = self.data();
        data.bot_of(org, bot)?;
        Ok(data
            .entities
            .values()
            .filter(|e| e.bot_id == bot)
            .cloned()
            .collect())
    }

    async fn get_entity(&self, org: OrgId, bot: BotId, entity: EntityId) -> StoreResult<Entity> {
        let data = self.data();
        data.entities
            .get(&entity)
            .filter(|e| e.org_id == org && e.bot_id == bot)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn update_entity(
        &self,
        org: OrgId,
        bot: BotId,
        entity: EntityId,
        patch: EntityPatch,
    ) -> StoreResult<Entity> {
        let now = self.now();
        let mut data = self.data();
        data.entities
            .get(&entity)
            .filter(|e| e.org_id == org && e.bot_id == bot)
            .ok_or(StoreError::NotFound)?;
        if let Some(name) = &patch.name {
            name_taken(
                data.entities
                    .values()
                    .filter(|e| e.bot_id == bot && e.id != entity)
                    .map(|e| e.name.as_str()),
                name,
            )?;
        }
        let stored = data.entities.get_mut(&entity).ok_or(StoreError::NotFound)?;
        if let Some(name) = patch.name {
            stored.name = name;
        }
        if let Some(kind) = patch.kind {
            stored.kind = kind;
        }
        stored.updated_at = now;
        let updated = stored.clone();
        data.record_change(Change::Bot { org, bot }, now);
        Ok(updated)
    }

    async fn delete_entity(&self, org: OrgId, bot: BotId, entity: EntityId) -> StoreResult<()> {
        let mut data = self.data();
        data.entities
            .get(&entity)
            .filter(|e| e.org_id == org && e.bot_id == bot)
            .ok_or(StoreError::NotFound)?;
        data.entities.remove(&entity);
        data.record_change(Change::Bot { org, bot }, self.now());
        Ok(())
    }
}

#[async_trait]
impl FlowRepo for InMemoryStore {
    async fn get_flow_draft(&self, org: OrgId, bot: BotId) -> StoreResult<Option<FlowDraft>> {
        let data = self.data();
        data.bot_of(org, bot)?;
        Ok(data.drafts.get(&bot).cloned())
    }

    async fn save_flow_draft(&self, org: OrgId, bot: BotId, flow: Flow) -> StoreResult<FlowDraft> {
        let now = self.now();
        let mut data = self.data();
        data.bot_of(org, bot)?;
        let draft = FlowDraft {
            bot_id: bot,
            flow,
            updated_at: now,
        };
        data.drafts.insert(bot, draft.clone());
        Ok(draft)
    }

    async fn publish_flow(&self, org: OrgId, bot: BotId, flow: Flow) -> StoreResult<FlowVersion> {
        let now = self.now();
        let mut data = self.data();
        data.bot_of(org, bot)?;
        let version = data
            .versions
            .keys()
            .filter(|(b, _)| *b == bot)
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0)
            + 1;
        let published = FlowVersion {
            bot_id: bot,
            version,
            flow,
            created_at: now,
        };
        data.versions.insert((bot, version), published.clone());
        data.record_change(Change::Bot { org, bot }, now);
        Ok(published)
    }

    async fn get_flow_version(
        &self,
        org: OrgId,
        bot: BotId,
        version: u32,
    ) -> StoreResult<FlowVersion> {
        let data = self.data();
        data.bot_of(org, bot)?;
        data.versions
            .get(&(bot, version))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn latest_flow_version(
        &self,
        org: OrgId,
        bot: BotId,
    ) -> StoreResult<Option<FlowVersion>> {
        let data = self.data();
        data.bot_of(org, bot)?;
        Ok(data
            .versions
            .range((bot, 0)..=(bot, u32::MAX))
            .next_back()
            .map(|(_, v)| v.clone()))
    }
}
