//! Trained NLU models per bot, reused until the bot's intents or entities change.
//!
//! Two levels, as in any read-through cache:
//! 1. **In process**: a model is keyed by a fingerprint of the training data it was built
//!    from, so an edit made through any instance is picked up on the next parse without
//!    explicit invalidation. Concurrent parses of one bot wait for one build.
//! 2. **Shared** (optional, [`ModelCache::with_shared`], Redis in the server): a trained
//!    classifier is stored as bytes ([`IntentClassifier::encode`]) under a digest of its
//!    examples, so an instance that starts, restarts or scales out loads what another one
//!    trained instead of training again. Training 15,000 examples of 150 intents takes about
//!    20 s; decoding its 9 MB takes about 70 ms (the `nlu` bench). The shared cache is
//!    optional in every sense: a miss, an unreachable server or bytes that do not decode
//!    (another version wrote them) mean training here, as without it.
//!
//! Training runs on the blocking pool. Entity extractors are cheap to compile and are built
//! in process. Besides [`ModelCache::stats`], the counters `botbuilder_nlu_models_trained_total`
//! and `botbuilder_nlu_models_loaded_total` (from the shared cache) go to the `metrics`
//! recorder the application installed (the server's `/metrics`).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{
    EntityDefinition, EntityError, EntityExtractor, IntentClassifier, NluError, TrainOptions,
    TrainingExample,
};
use crate::cache::Cache;
use crate::domain::{Entity, Intent};
use crate::id::BotId;

/// Bots whose models are kept in process before the cache starts over.
const MAX_BOTS: usize = 1_000;

/// How long a shared model lives after it was stored. A model is stored again whenever an
/// instance trains it, and an edited bot's examples take a key of their own, so this only
/// bounds what stale models of edited or deleted bots cost the shared cache.
pub const SHARED_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

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
#[derive(Default)]
pub struct ModelCache {
    models: Mutex<HashMap<BotId, (u64, Arc<BotModels>)>>,
    /// One build at a time per bot: a parse that misses waits for the build under way.
    building: Mutex<HashMap<BotId, Arc<tokio::sync::Mutex<()>>>>,
    shared: Option<Arc<dyn Cache>>,
    trained: AtomicU64,
    loaded: AtomicU64,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCache")
            .field("shared", &self.shared.is_some())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What a [`ModelCache`] did since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelCacheStats {
    /// Classifiers trained in this process.
    pub trained: u64,
    /// Classifiers loaded from the shared cache instead.
    pub loaded: u64,
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

/// The examples the classifier of `intents` learns from, in the order it learns them.
fn examples_of(intents: &[Intent]) -> Vec<TrainingExample> {
    intents
        .iter()
        .flat_map(|i| {
            i.examples
                .iter()
                .map(|text| TrainingExample::new(text.as_str(), i.name.as_str()))
        })
        .collect()
}

fn extractor_of(entities: Vec<Entity>) -> Result<EntityExtractor, EntityError> {
    let definitions: Vec<EntityDefinition> = entities
        .into_iter()
        .map(|e| EntityDefinition {
            name: e.name,
            kind: e.kind,
        })
        .collect();
    EntityExtractor::new(&definitions)
}

/// The shared cache's key of the classifier of `bot` trained on `examples`: the format and
/// crate versions (another version may train or encode differently), the bot, and a 128-bit
/// FNV-1a digest (Fowler–Noll–Vo; offset basis and prime of the published 128-bit variant)
/// of the examples, each field length-prefixed. The digest is not cryptographic: the bot id
/// in the key keeps one bot's crafted examples from reaching another bot's model.
pub fn shared_key(bot: BotId, examples: &[TrainingExample]) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            h ^= u128::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for example in examples {
        eat(example.intent.as_bytes());
        eat(example.text.as_bytes());
    }
    format!(
        "nlu:{}:{}:{bot}:{h:032x}",
        super::encoding::FORMAT_VERSION,
        env!("CARGO_PKG_VERSION")
    )
}

impl ModelCache {
    /// A cache that also shares trained classifiers through `shared` (see the module docs).
    pub fn with_shared(shared: Arc<dyn Cache>) -> Self {
        Self {
            shared: Some(shared),
            ..Self::default()
        }
    }

    /// What this cache did so far.
    pub fn stats(&self) -> ModelCacheStats {
        ModelCacheStats {
            trained: self.trained.load(Ordering::Relaxed),
            loaded: self.loaded.load(Ordering::Relaxed),
        }
    }

    /// The models for `bot` trained on exactly `intents` and `entities`, from the cache or
    /// freshly built.
    ///
    /// # Errors
    /// An entity definition does not compile, or training failed.
    pub async fn models(
        &self,
        bot: BotId,
        intents: Vec<Intent>,
        entities: Vec<Entity>,
    ) -> Result<Arc<BotModels>, ModelError> {
        let key = fingerprint(&intents, &entities);
        if let Some(models) = self.cached(bot, key) {
            return Ok(models);
        }
        let build_lock = self
            .building
            .lock()
            .expect("nlu cache poisoned")
            .entry(bot)
            .or_default()
            .clone();
        let building = build_lock.lock().await;
        if let Some(models) = self.cached(bot, key) {
            return Ok(models);
        }
        let extractor = extractor_of(entities)?;
        let examples = examples_of(&intents);
        let (classifier, to_share) = if examples.is_empty() {
            (None, None)
        } else {
            let (classifier, to_share) = self.classifier(bot, examples).await?;
            (Some(classifier), to_share)
        };
        let models = Arc::new(BotModels {
            classifier,
            extractor,
        });
        {
            let mut cache = self.models.lock().expect("nlu cache poisoned");
            if cache.len() >= MAX_BOTS {
                cache.clear();
                self.building.lock().expect("nlu cache poisoned").clear();
            }
            cache.insert(bot, (key, models.clone()));
        }
        // Parses waiting for this build go on; this one returns once the model is shared, so
        // an instance asked next finds it.
        drop(building);
        if let (Some(shared), Some((key, bytes))) = (&self.shared, to_share)
            && let Err(e) = shared.set(&key, bytes, SHARED_TTL).await
        {
            tracing::warn!(%bot, "cannot share a trained NLU model ({e})");
        }
        Ok(models)
    }

    fn cached(&self, bot: BotId, key: u64) -> Option<Arc<BotModels>> {
        let cache = self.models.lock().expect("nlu cache poisoned");
        cache
            .get(&bot)
            .filter(|(fingerprint, _)| *fingerprint == key)
            .map(|(_, models)| models.clone())
    }

    /// The classifier of `examples`, from the shared cache or trained here; when trained with
    /// a shared cache, also its key there and its bytes, to share.
    async fn classifier(
        &self,
        bot: BotId,
        examples: Vec<TrainingExample>,
    ) -> Result<(IntentClassifier, Option<(String, Vec<u8>)>), ModelError> {
        let Some(shared) = &self.shared else {
            return Ok((self.train(examples).await?, None));
        };
        let key = shared_key(bot, &examples);
        match shared.get(&key).await {
            Ok(Some(bytes)) => match blocking(move || IntentClassifier::decode(&bytes)).await? {
                Ok(classifier) => {
                    self.loaded.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("botbuilder_nlu_models_loaded_total").increment(1);
                    return Ok((classifier, None));
                }
                Err(e) => {
                    tracing::warn!(%bot, "a shared NLU model does not decode ({e}); training")
                }
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(%bot, "cannot read the shared NLU models ({e}); training"),
        }
        let classifier = Arc::new(self.train(examples).await?);
        let encoding = classifier.clone();
        let bytes = blocking(move || encoding.encode()).await?;
        Ok((Arc::unwrap_or_clone(classifier), Some((key, bytes))))
    }

    async fn train(&self, examples: Vec<TrainingExample>) -> Result<IntentClassifier, ModelError> {
        let classifier =
            blocking(move || IntentClassifier::train(&examples, &TrainOptions::default()))
                .await??;
        self.trained.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("botbuilder_nlu_models_trained_total").increment(1);
        Ok(classifier)
    }
}

/// Runs CPU-bound `work` on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ModelError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ModelError::Task(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CacheError;
    use crate::id::{IntentId, OrgId};
    use async_trait::async_trait;
    use chrono::Utc;

    /// A shared cache in a map; `broken` makes every call fail as an unreachable server does.
    #[derive(Default)]
    struct MapCache {
        entries: Mutex<HashMap<String, Vec<u8>>>,
        broken: bool,
    }

    #[async_trait]
    impl Cache for MapCache {
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
            if self.broken {
                return Err(CacheError::Unavailable("down".into()));
            }
            Ok(self.entries.lock().unwrap().get(key).cloned())
        }

        async fn set(&self, key: &str, value: Vec<u8>, _: Duration) -> Result<(), CacheError> {
            if self.broken {
                return Err(CacheError::Unavailable("down".into()));
            }
            self.entries.lock().unwrap().insert(key.to_owned(), value);
            Ok(())
        }

        async fn delete(&self, key: &str) -> Result<(), CacheError> {
            self.entries.lock().unwrap().remove(key);
            Ok(())
        }
    }

    fn intents(bot: BotId, extra: &str) -> Vec<Intent> {
        let intent = |name: &str, examples: &[&str]| Intent {
            id: IntentId::new(),
            org_id: OrgId::new(),
            bot_id: bot,
            name: name.into(),
            examples: examples.iter().map(|e| (*e).to_owned()).collect(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        vec![
            intent(
                "refund",
                &["i want my money back", "refund my order", extra],
            ),
            intent(
                "hours",
                &["when do you open", "what are your opening hours"],
            ),
        ]
    }

    fn intent_of(models: &BotModels, text: &str) -> Option<String> {
        models.classifier.as_ref().unwrap().classify(text).intent
    }

    #[tokio::test]
    async fn an_instance_loads_the_model_another_one_trained() {
        let shared: Arc<dyn Cache> = Arc::new(MapCache::default());
        let (a, b) = (
            ModelCache::with_shared(shared.clone()),
            ModelCache::with_shared(shared.clone()),
        );
        let bot = BotId::new();
        let trained = a
            .models(bot, intents(bot, "a refund"), vec![])
            .await
            .unwrap();
        let loaded = b
            .models(bot, intents(bot, "a refund"), vec![])
            .await
            .unwrap();
        assert_eq!(
            a.stats(),
            ModelCacheStats {
                trained: 1,
                loaded: 0
            }
        );
        assert_eq!(
            b.stats(),
            ModelCacheStats {
                trained: 0,
                loaded: 1
            }
        );
        for text in ["money back please", "are you open on sunday"] {
            assert_eq!(
                intent_of(&loaded, text),
                intent_of(&trained, text),
                "{text}"
            );
        }
        assert!(intent_of(&loaded, "money back please").is_some());

        // An edit takes a key of its own: the other instance trains it.
        b.models(bot, intents(bot, "reimburse me"), vec![])
            .await
            .unwrap();
        assert_eq!(
            b.stats(),
            ModelCacheStats {
                trained: 1,
                loaded: 1
            }
        );
        // And the in-process level answers repeats without the shared one.
        b.models(bot, intents(bot, "reimburse me"), vec![])
            .await
            .unwrap();
        assert_eq!(
            b.stats(),
            ModelCacheStats {
                trained: 1,
                loaded: 1
            }
        );
    }

    #[tokio::test]
    async fn an_unreachable_or_corrupt_shared_cache_means_training_here() {
        let bot = BotId::new();
        let down = ModelCache::with_shared(Arc::new(MapCache {
            broken: true,
            ..MapCache::default()
        }));
        let models = down.models(bot, intents(bot, "x"), vec![]).await.unwrap();
        assert_eq!(down.stats().trained, 1);
        assert_eq!(
            intent_of(&models, "refund my order").as_deref(),
            Some("refund")
        );

        let shared = Arc::new(MapCache::default());
        let key = shared_key(bot, &examples_of(&intents(bot, "x")));
        shared
            .entries
            .lock()
            .unwrap()
            .insert(key.clone(), b"garbage".to_vec());
        let cache = ModelCache::with_shared(shared.clone());
        cache.models(bot, intents(bot, "x"), vec![]).await.unwrap();
        assert_eq!(
            cache.stats(),
            ModelCacheStats {
                trained: 1,
                loaded: 0
            }
        );
        let stored = shared.entries.lock().unwrap()[&key].clone();
        assert!(
            IntentClassifier::decode(&stored).is_ok(),
            "replaced by the trained model"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_parses_of_one_bot_wait_for_one_training() {
        let cache = Arc::new(ModelCache::default());
        let bot = BotId::new();
        let parses: Vec<_> = (0..8)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.models(bot, intents(bot, "x"), vec![]).await })
            })
            .collect();
        for parse in parses {
            parse.await.unwrap().unwrap();
        }
        assert_eq!(cache.stats().trained, 1);
    }

    #[test]
    fn the_shared_key_names_the_versions_the_bot_and_a_digest_of_the_examples() {
        let bot = BotId::from_uuid(uuid::Uuid::nil());
        let examples = [TrainingExample::new("refund please", "refund")];
        assert_eq!(
            shared_key(bot, &examples),
            format!(
                "nlu:1:{}:00000000-0000-0000-0000-000000000000:\
                 948bcf3faf3698774ef3e8801163abac",
                env!("CARGO_PKG_VERSION")
            ),
            "the same in every process and build"
        );
        let moved = [TrainingExample::new("refund", " please refund")];
        assert_ne!(
            shared_key(bot, &examples),
            shared_key(bot, &moved),
            "fields are delimited"
        );
        assert_ne!(
            shared_key(bot, &examples),
            shared_key(BotId::new(), &examples)
        );
    }
}
