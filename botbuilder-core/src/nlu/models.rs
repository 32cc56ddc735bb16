//! Trained NLU models per bot, reused until the bot's intents or entities change.
//!
//! A model is keyed by a fingerprint of the training data it was built from, so an edit made
//! through any instance is picked up on the next parse without explicit invalidation. Training
//! runs on the blocking pool.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use super::{
    EntityDefinition, EntityError, EntityExtractor, IntentClassifier, NluError, TrainOptions,
    TrainingExample,
};
use crate::domain::{Entity, Intent};
use crate::id::BotId;

/// Bots whose models are kept before the cache starts over.
const MAX_BOTS: usize = 1_000;

/// What a bot's NLU needs at parse time.
#[derive(Debug)]
pub struct BotModels {
    /// The intent classifier; `None` while the bot has no examples.
    pub classifier: Option<IntentClassifier>,
    /// The compiled entity definitions.
    pub extractor: EntityExtractor,
}

/// Why a bot's models could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A stored entity definition does not compile (it was valid when saved with an older
    /// version, or edited outside the API).
    #[error(transparent)]
    Entity(#[from] EntityError),
    /// Training failed.
    #[error(transparent)]
    Training(#[from] NluError),
    /// The training task panicked or was cancelled.
    #[error("training task failed: {0}")]
    Task(String),
}

/// The cache (see the module docs).
#[derive(Debug, Default)]
pub struct ModelCache {
    models: Mutex<HashMap<BotId, (u64, Arc<BotModels>)>>,
}

fn fingerprint(intents: &[Intent], entities: &[Entity]) -> u64 {
    let mut h = DefaultHasher::new();
    for intent in intents {
        intent.name.hash(&mut h);
        intent.examples.hash(&mut h);
    }
    for entity in entities {
        entity.name.hash(&mut h);
        serde_json::to_string(&entity.kind)
            .unwrap_or_default()
            .hash(&mut h);
    }
    h.finish()
}

fn build(intents: Vec<Intent>, entities: Vec<Entity>) -> Result<BotModels, ModelError> {
    let definitions: Vec<EntityDefinition> = entities
        .into_iter()
        .map(|e| EntityDefinition {
            name: e.name,
            kind: e.kind,
        })
        .collect();
    let extractor = EntityExtractor::new(&definitions)?;
    let examples: Vec<TrainingExample> = intents
        .iter()
        .flat_map(|i| {
            i.examples
                .iter()
                .map(|text| TrainingExample::new(text.as_str(), i.name.as_str()))
        })
        .collect();
    let classifier = if examples.is_empty() {
        None
    } else {
        Some(IntentClassifier::train(
            &examples,
            &TrainOptions::default(),
        )?)
    };
    Ok(BotModels {
        classifier,
        extractor,
    })
}

impl ModelCache {
    /// The models for `bot` trained on exactly `intents` and `entities`, from the cache or
    /// freshly built.
    pub async fn models(
        &self,
        bot: BotId,
        intents: Vec<Intent>,
        entities: Vec<Entity>,
    ) -> Result<Arc<BotModels>, ModelError> {
        let key = fingerprint(&intents, &entities);
        if let Some((fp, models)) = self.models.lock().expect("nlu cache poisoned").get(&bot)
            && *fp == key
        {
            return Ok(models.clone());
        }
        let models = tokio::task::spawn_blocking(move || build(intents, entities))
            .await
            .map_err(|e| ModelError::Task(e.to_string()))??;
        let models = Arc::new(models);
        let mut cache = self.models.lock().expect("nlu cache poisoned");
        if cache.len() >= MAX_BOTS {
            cache.clear();
        }
        cache.insert(bot, (key, models.clone()));
        Ok(models)
    }
}
