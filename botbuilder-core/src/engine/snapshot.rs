//! What a turn needs to know about its bot, read once and reused across turns.
//!
//! A [`BotSnapshot`] holds the bot (settings, AI config), its organization's settings, its
//! trained NLU models and its newest published flow version. Snapshots live until the change
//! bus reports a change to the bot or its organization ([`crate::change`]; the engine is a
//! [`crate::change::ChangeListener`]) or [`super::Engine::invalidate_bot`] drops them, and at
//! most for [`super::EngineConfig::bot_cache_ttl`], which bounds what a missed change could
//! cost. Flow versions are immutable once published, so they are cached by version without
//! expiry.
//!
//! This turns the five reads a turn would otherwise start with (bot, intents, entities,
//! newest flow version, the session's flow version) into none.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::{Bot, OrgSettings};
use crate::flow::Flow;
use crate::id::{BotId, OrgId};
use crate::nlu::{BotModels, ModelCache};
use crate::store::{Store, StoreError};

use super::EngineError;

/// Bots whose snapshots are kept before the cache starts over.
const MAX_BOTS: usize = 10_000;
/// Flow versions kept before the cache starts over.
const MAX_FLOWS: usize = 10_000;

/// A bot as one turn sees it.
#[derive(Debug)]
pub(crate) struct BotSnapshot {
    pub(crate) bot: Bot,
    /// Its organization's settings (the spend limit).
    pub(crate) org_settings: OrgSettings,
    pub(crate) models: Arc<BotModels>,
    /// The version new sessions start on.
    pub(crate) latest_flow: Option<u32>,
    loaded_at: DateTime<Utc>,
}

/// The snapshot and flow caches.
#[derive(Debug, Default)]
pub(crate) struct Snapshots {
    bots: Mutex<HashMap<BotId, Arc<BotSnapshot>>>,
    flows: Mutex<HashMap<(BotId, u32), Arc<Flow>>>,
    /// What was invalidated when: a snapshot loaded across its bot's invalidation is used,
    /// not cached.
    invalidations: crate::change::Invalidations<BotId>,
}

impl Snapshots {
    /// The snapshot of `bot` in `org`, from the cache if younger than `ttl`.
    pub(crate) async fn bot(
        &self,
        store: &dyn Store,
        models: &ModelCache,
        org: OrgId,
        bot: BotId,
        now: DateTime<Utc>,
        ttl: TimeDelta,
    ) -> Result<Arc<BotSnapshot>, EngineError> {
        let cached = self
            .bots
            .lock()
            .expect("snapshots poisoned")
            .get(&bot)
            .cloned();
        if let Some(snapshot) = cached
            && now - snapshot.loaded_at < ttl
        {
            // A bot id names one bot of one organization: any other org simply has no such bot.
            return if snapshot.bot.org_id == org {
                Ok(snapshot)
            } else {
                Err(EngineError::BotNotFound)
            };
        }
        let generation = self.invalidations.current();
        let loaded = match store.get_bot(org, bot).await {
            Ok(loaded) => loaded,
            Err(StoreError::NotFound) => {
                self.invalidate(bot);
                return Err(EngineError::BotNotFound);
            }
            Err(e) => return Err(e.into()),
        };
        let intents = store.list_intents(org, bot).await?;
        let entities = store.list_entities(org, bot).await?;
        let latest_flow = store
            .latest_flow_version(org, bot)
            .await?
            .map(|v| v.version);
        let org_settings = store.get_org(org).await?.settings;
        let snapshot = Arc::new(BotSnapshot {
            bot: loaded,
            org_settings,
            models: models.models(bot, intents, entities).await?,
            latest_flow,
            loaded_at: now,
        });
        let mut bots = self.bots.lock().expect("snapshots poisoned");
        if !self.invalidations.unchanged_since(&bot, generation) {
            return Ok(snapshot);
        }
        if bots.len() >= MAX_BOTS {
            bots.clear();
        }
        bots.insert(bot, snapshot.clone());
        Ok(snapshot)
    }

    /// Published flow `version` of `bot` (immutable, so cached for good).
    pub(crate) async fn flow(
        &self,
        store: &dyn Store,
        org: OrgId,
        bot: BotId,
        version: u32,
    ) -> Result<Arc<Flow>, EngineError> {
        if let Some(flow) = self
            .flows
            .lock()
            .expect("flows poisoned")
            .get(&(bot, version))
        {
            return Ok(flow.clone());
        }
        let flow = Arc::new(store.get_flow_version(org, bot, version).await?.flow);
        let mut flows = self.flows.lock().expect("flows poisoned");
        if flows.len() >= MAX_FLOWS {
            flows.clear();
        }
        flows.insert((bot, version), flow.clone());
        Ok(flow)
    }

    /// Forgets `bot` (its flow versions too).
    pub(crate) fn invalidate(&self, bot: BotId) {
        self.invalidations.invalidate(bot);
        self.bots.lock().expect("snapshots poisoned").remove(&bot);
        self.flows
            .lock()
            .expect("flows poisoned")
            .retain(|(b, _), _| *b != bot);
    }

    /// Forgets every bot of `org`.
    pub(crate) fn invalidate_org(&self, org: OrgId) {
        self.invalidations.invalidate_all();
        let mut gone = Vec::new();
        self.bots
            .lock()
            .expect("snapshots poisoned")
            .retain(|id, s| {
                let keep = s.bot.org_id != org;
                if !keep {
                    gone.push(*id);
                }
                keep
            });
        self.flows
            .lock()
            .expect("flows poisoned")
            .retain(|(b, _), _| !gone.contains(b));
    }
}
