use async_trait::async_trait;
use botbuilder_core::domain::{Entity, EntityPatch, Intent, IntentPatch, NewEntity, NewIntent};
use botbuilder_core::id::{BotId, EntityId, IntentId, OrgId};
use botbuilder_core::store::{BotRepo, NluRepo, StoreError, StoreResult};
use uuid::Uuid;

use super::rows::{EntityRow, IntentRow, micros};
use super::{SqliteStore, expect_one};
use crate::error::{corrupt, store_err};

macro_rules! intent_columns {
    () => {
        "id, organization_id, bot_id, name, examples, created_at, updated_at"
    };
}

macro_rules! entity_columns {
    () => {
        "id, organization_id, bot_id, name, kind, created_at, updated_at"
    };
}

fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| corrupt("NLU data", e))
}

/// A unique-name violation, said in words the client understands.
fn name_conflict(name: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| match store_err(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("the name `{name}` is already used"))
        }
        other => other,
    }
}

#[async_trait]
impl NluRepo for SqliteStore {
    async fn create_intent(&self, org: OrgId, bot: BotId, new: NewIntent) -> StoreResult<Intent> {
        let now = micros(self.now());
        sqlx::query_as::<_, IntentRow>(concat!(
            "INSERT INTO intents (id, organization_id, bot_id, name, examples, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ",
            intent_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(&new.name)
        .bind(to_json(&new.examples)?)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(name_conflict(&new.name))?
        .try_into()
    }

    async fn list_intents(&self, org: OrgId, bot: BotId) -> StoreResult<Vec<Intent>> {
        self.get_bot(org, bot).await?;
        sqlx::query_as::<_, IntentRow>(concat!(
            "SELECT ",
            intent_columns!(),
            " FROM intents WHERE organization_id = ? AND bot_id = ? ORDER BY id"
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(Intent::try_from)
        .collect()
    }

    async fn get_intent(&self, org: OrgId, bot: BotId, intent: IntentId) -> StoreResult<Intent> {
        sqlx::query_as::<_, IntentRow>(concat!(
            "SELECT ",
            intent_columns!(),
            " FROM intents WHERE organization_id = ? AND bot_id = ? AND id = ?"
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(intent.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn update_intent(
        &self,
        org: OrgId,
        bot: BotId,
        intent: IntentId,
        patch: IntentPatch,
    ) -> StoreResult<Intent> {
        let examples = patch.examples.as_ref().map(to_json).transpose()?;
        let name = patch.name.clone().unwrap_or_default();
        sqlx::query_as::<_, IntentRow>(concat!(
            "UPDATE intents SET name = COALESCE(?4, name), examples = COALESCE(?5, examples),
                    updated_at = ?6
             WHERE organization_id = ?1 AND bot_id = ?2 AND id = ?3 RETURNING ",
            intent_columns!()
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(intent.as_uuid())
        .bind(patch.name)
        .bind(examples)
        .bind(micros(self.now()))
        .fetch_one(&self.pool)
        .await
        .map_err(name_conflict(&name))?
        .try_into()
    }

    async fn delete_intent(&self, org: OrgId, bot: BotId, intent: IntentId) -> StoreResult<()> {
        let done =
            sqlx::query("DELETE FROM intents WHERE organization_id = ? AND bot_id = ? AND id = ?")
                .bind(org.as_uuid())
                .bind(bot.as_uuid())
                .bind(intent.as_uuid())
                .execute(&self.pool)
                .await
                .map_err(store_err)?;
        expect_one(done.rows_affected())
    }

    async fn create_entity(&self, org: OrgId, bot: BotId, new: NewEntity) -> StoreResult<Entity> {
        let now = micros(self.now());
        sqlx::query_as::<_, EntityRow>(concat!(
            "INSERT INTO entities (id, organization_id, bot_id, name, kind, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ",
            entity_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(&new.name)
        .bind(to_json(&new.kind)?)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(name_conflict(&new.name))?
        .try_into()
    }

    async fn list_entities(&self, org: OrgId, bot: BotId) -> StoreResult<Vec<Entity>> {
        self.get_bot(org, bot).await?;
        sqlx::query_as::<_, EntityRow>(concat!(
            "SELECT ",
            entity_columns!(),
            " FROM entities WHERE organization_id = ? AND bot_id = ? ORDER BY id"
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(Entity::try_from)
        .collect()
    }

    async fn get_entity(&self, org: OrgId, bot: BotId, entity: EntityId) -> StoreResult<Entity> {
        sqlx::query_as::<_, EntityRow>(concat!(
            "SELECT ",
            entity_columns!(),
            " FROM entities WHERE organization_id = ? AND bot_id = ? AND id = ?"
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(entity.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn update_entity(
        &self,
        org: OrgId,
        bot: BotId,
        entity: EntityId,
        patch: EntityPatch,
    ) -> StoreResult<Entity> {
        let kind = patch.kind.as_ref().map(to_json).transpose()?;
        let name = patch.name.clone().unwrap_or_default();
        sqlx::query_as::<_, EntityRow>(concat!(
            "UPDATE entities SET name = COALESCE(?4, name), kind = COALESCE(?5, kind),
                    updated_at = ?6
             WHERE organization_id = ?1 AND bot_id = ?2 AND id = ?3 RETURNING ",
            entity_columns!()
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(entity.as_uuid())
        .bind(patch.name)
        .bind(kind)
        .bind(micros(self.now()))
        .fetch_one(&self.pool)
        .await
        .map_err(name_conflict(&name))?
        .try_into()
    }

    async fn delete_entity(&self, org: OrgId, bot: BotId, entity: EntityId) -> StoreResult<()> {
        let done =
            sqlx::query("DELETE FROM entities WHERE organization_id = ? AND bot_id = ? AND id = ?")
                .bind(org.as_uuid())
                .bind(bot.as_uuid())
                .bind(entity.as_uuid())
                .execute(&self.pool)
                .await
                .map_err(store_err)?;
        expect_one(done.rows_affected())
    }
}
