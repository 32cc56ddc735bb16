//! Trained NLU models per bot, reused until the bot's intents or entities change.
//!
//! Two levels, as in any read-through cache:
//! 1. **In process**: a model is keyed by a fingerprint of the training data it was built
//!    from, so an edit made through any instance is picked up on the next parse without
//!    explicit invalidation. Concurrent parses of one bot wait for one build.
//! 2. **Shared** (optional, [`ModelCache::with_shared`], Redis in the server): a trained
//!    classifier is stored as bytes ([`IntentClassifier::encode`]) under its bot
//!    ([`shared_key`]), with a digest of its examples, so an instance that starts, restarts
//!    or scales out loads what another one trained instead of training again. Training
//!    15,000 examples of 150 intents takes about 20 s; decoding its 9 MB about 70 ms (the
//!    `nlu` bench). The shared cache is optional in every sense: a miss, an unreachable
//!    server, a model of other examples or bytes that do not decode mean training here, as
//!    without it. Instances that miss at the same moment each train; the last to finish
//!    leaves its model.
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

/// How long a shared model lives after it was last stored (by an instance that trained it):
/// past it, the next instance to need the model trains and shares it again. Bounds what the
/// models of deleted bots cost the shared cache.
pub const SHARED_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a bot's NLU needs at parse time.
#[derive(Debug)]
pub struct BotModels {
    /// The intent classifier; `None` while the bot has no examples. Shared by the models of
    /// the bot's successive entity definitions while its examples stay the same.
    pub classifier: Option<Arc<IntentClassifier>>,
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

/// The cache (see the module docs). Cheap to share behind an `Arc`; clones share nothing.
#[derive(Default)]
pub struct ModelCache {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    models: Mutex<HashMap<BotId, Cached>>,
    /// One build at a time per bot: a parse that misses waits for the build under way.
    building: Mutex<HashMap<BotId, Arc<tokio::sync::Mutex<()>>>>,
    shared: Option<Arc<dyn Cache>>,
    trained: AtomicU64,
    loaded: AtomicU64,
}

/// A bot's models with what they were built from.
struct Cached {
    /// [`fingerprint`] of the intents and entities.
    fingerprint: u64,
    /// [`examples_digest`] of the examples the classifier learned.
    examples: u128,
    models: Arc<BotModels>,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCache")
            .field("shared", &self.inner.shared.is_some())
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

/// A 128-bit FNV-1a digest (Fowler–Noll–Vo; offset basis and prime of the published 128-bit
/// variant) of `examples` in order, each field length-prefixed. The same in every process
/// and build; not cryptographic (see [`shared_key`] for why that is enough).
pub fn examples_digest(examples: &[TrainingExample]) -> u128 {
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
    h
}

/// The shared cache's key of `bot`'s classifier: the encoding's format version, the training
/// version ([`super::TRAINING_VERSION`]) and the crate's, then the bot. One key per bot, so
/// a retrained model replaces the one before; the value starts with the
/// [`examples_digest`] of what it learned, checked on loading. The digest is not
/// cryptographic, and need not be: the bot id in the key keeps one bot's crafted examples
/// from reaching another bot's model.
pub fn shared_key(bot: BotId) -> String {
    format!(
        "nlu:{}:{}:{}:{bot}",
        super::encoding::FORMAT_VERSION,
        super::TRAINING_VERSION,
        env!("CARGO_PKG_VERSION")
    )
}

/// The classifier in a shared value, when the value holds one trained on `examples`.
fn shared_classifier(value: &[u8], examples: u128) -> Result<Option<IntentClassifier>, String> {
    let Some((digest, encoded)) = value.split_first_chunk::<16>() else {
        return Err("shorter than its digest".into());
    };
    if u128::from_le_bytes(*digest) != examples {
        return Ok(None);
    }
    IntentClassifier::decode(encoded)
        .map(Some)
        .map_err(|e| e.to_string())
}

impl ModelCache {
    /// A cache that also shares trained classifiers through `shared` (see the module docs).
    pub fn with_shared(shared: Arc<dyn Cache>) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared: Some(shared),
                ..Inner::default()
            }),
        }
    }

    /// What this cache did so far.
    pub fn stats(&self) -> ModelCacheStats {
        ModelCacheStats {
            trained: self.inner.trained.load(Ordering::Relaxed),
            loaded: self.inner.loaded.load(Ordering::Relaxed),
        }
    }

    /// The models for `bot` trained on exactly `intents` and `entities`, from the cache or
    /// freshly built.
    ///
    /// A build runs on a task of its own: a parse that goes away meanwhile (a client hanging
    /// up) leaves it to finish for the parses waiting on it.
    ///
    /// # Errors
    /// An entity definition does not compile, or training failed.
    pub async fn models(
        &self,
        bot: BotId,
        intents: Vec<Intent>,
        entities: Vec<Entity>,
    ) -> Result<Arc<BotModels>, ModelError> {
        let fingerprint = fingerprint(&intents, &entities);
        if let Some(models) = self.inner.cached(bot, fingerprint) {
            return Ok(models);
        }
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.build(bot, fingerprint, intents, entities).await })
            .await
            .map_err(|e| ModelError::Task(e.to_string()))?
    }
}

impl Inner {
    fn cached(&self, bot: BotId, fingerprint: u64) -> Option<Arc<BotModels>> {
        let cache = self.models.lock().expect("nlu cache poisoned");
        cache
            .get(&bot)
            .filter(|cached| cached.fingerprint == fingerprint)
            .map(|cached| cached.models.clone())
    }

    /// The classifier of the bot's cached models when it learned `examples`.
    fn cached_classifier(&self, bot: BotId, examples: u128) -> Option<Arc<IntentClassifier>> {
        let cache = self.models.lock().expect("nlu cache poisoned");
        cache
            .get(&bot)
            .filter(|cached| cached.examples == examples)
            .and_then(|cached| cached.models.classifier.clone())
    }

    async fn build(
        &self,
        bot: BotId,
        fingerprint: u64,
        intents: Vec<Intent>,
        entities: Vec<Entity>,
    ) -> Result<Arc<BotModels>, ModelError> {
        let build_lock = self
            .building
            .lock()
            .expect("nlu cache poisoned")
            .entry(bot)
            .or_default()
            .clone();
        let building = build_lock.lock().await;
        if let Some(models) = self.cached(bot, fingerprint) {
            return Ok(models);
        }
        let extractor = blocking(move || extractor_of(entities)).await??;
        let examples = examples_of(&intents);
        let digest = examples_digest(&examples);
        let mut to_share = None;
        let classifier = if examples.is_empty() {
            None
        } else if let Some(same) = self.cached_classifier(bot, digest) {
            // Only the entities changed.
            Some(same)
        } else {
            let (classifier, trained) = self.classifier(bot, examples, digest).await?;
            to_share = trained;
            Some(Arc::new(classifier))
        };
        let models = Arc::new(BotModels {
            classifier,
            extractor,
        });
        {
            let mut cache = self.models.lock().expect("nlu cache poisoned");
            if cache.len() >= MAX_BOTS {
                cache.clear();
                self.building
                    .lock()
                    .expect("nlu cache poisoned")
                    .retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            let cached = Cached {
                fingerprint,
                examples: digest,
                models: models.clone(),
            };
            cache.insert(bot, cached);
        }
        // Parses waiting for this build go on; this one returns once the model is shared (or
        // sharing failed), so an instance asked next finds it.
        drop(building);
        if let (Some(shared), Some(value)) = (&self.shared, to_share)
            && let Err(e) = shared.set(&shared_key(bot), value, SHARED_TTL).await
        {
            tracing::warn!(%bot, "cannot share a trained NLU model ({e})");
        }
        Ok(models)
    }

    /// The classifier of `examples` (whose digest is `digest`), from the shared cache or
    /// trained here; when trained with a shared cache, also the value to share.
    async fn classifier(
        &self,
        bot: BotId,
        examples: Vec<TrainingExample>,
        digest: u128,
    ) -> Result<(IntentClassifier, Option<Vec<u8>>), ModelError> {
        let Some(shared) = &self.shared else {
            return Ok((self.train(examples).await?, None));
        };
        match shared.get(&shared_key(bot)).await {
            Ok(Some(value)) => match blocking(move || shared_classifier(&value, digest)).await? {
                Ok(Some(classifier)) => {
                    self.loaded.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("botbuilder_nlu_models_loaded_total").increment(1);
                    return Ok((classifier, None));
                }
                // Trained on other examples (an edit, or an instance behind on it).
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(%bot, "a shared NLU model does not decode ({e}); training");
                }
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(%bot, "cannot read the shared NLU models ({e}); training"),
        }
        let classifier = Arc::new(self.train(examples).await?);
        let encoding = classifier.clone();
        let value = blocking(move || {
            let mut value = digest.to_le_bytes().to_vec();
            value.extend(encoding.encode());
            value
        })
        .await?;
        Ok((Arc::unwrap_or_clone(classifier), Some(value)))
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
        let key = shared_key(bot);
        let digest = examples_digest(&examples_of(&intents(bot, "x")));
        let mut garbage = digest.to_le_bytes().to_vec();
        garbage.extend(b"garbage");
        shared.entries.lock().unwrap().insert(key.clone(), garbage);
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
            matches!(shared_classifier(&stored, digest), Ok(Some(_))),
            "replaced by the trained model"
        );
    }

    #[tokio::test]
    async fn a_shared_model_of_other_examples_is_replaced_not_used() {
        let shared: Arc<dyn Cache> = Arc::new(MapCache::default());
        let bot = BotId::new();
        let (a, b) = (
            ModelCache::with_shared(shared.clone()),
            ModelCache::with_shared(shared.clone()),
        );
        a.models(bot, intents(bot, "old example"), vec![])
            .await
            .unwrap();
        b.models(bot, intents(bot, "new example"), vec![])
            .await
            .unwrap();
        assert_eq!(
            b.stats(),
            ModelCacheStats {
                trained: 1,
                loaded: 0
            }
        );
        let c = ModelCache::with_shared(shared);
        c.models(bot, intents(bot, "new example"), vec![])
            .await
            .unwrap();
        assert_eq!(
            c.stats(),
            ModelCacheStats {
                trained: 0,
                loaded: 1
            },
            "one key per bot"
        );
    }

    #[tokio::test]
    async fn an_entity_edit_keeps_the_classifier() {
        let cache = ModelCache::default();
        let bot = BotId::new();
        let before = cache.models(bot, intents(bot, "x"), vec![]).await.unwrap();
        let entity = Entity {
            id: crate::id::EntityId::new(),
            org_id: OrgId::new(),
            bot_id: bot,
            name: "order".into(),
            kind: crate::nlu::EntityKind::Regex {
                pattern: "#(\\d+)".into(),
            },
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let after = cache
            .models(bot, intents(bot, "x"), vec![entity])
            .await
            .unwrap();
        assert_eq!(cache.stats().trained, 1);
        assert!(Arc::ptr_eq(
            before.classifier.as_ref().unwrap(),
            after.classifier.as_ref().unwrap()
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_build_whose_parse_went_away_still_serves_the_next_parse() {
        let cache = ModelCache::default();
        let bot = BotId::new();
        let gone = tokio::time::timeout(
            Duration::from_millis(1),
            cache.models(bot, intents(bot, "x"), vec![]),
        )
        .await;
        drop(gone);
        cache.models(bot, intents(bot, "x"), vec![]).await.unwrap();
        assert_eq!(
            cache.stats().trained,
            1,
            "the first build finished, and was used"
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
    fn the_shared_key_names_the_versions_and_the_bot_and_the_digest_is_stable() {
        let bot = BotId::from_uuid(uuid::Uuid::nil());
        assert_eq!(
            shared_key(bot),
            format!(
                "nlu:1:{}:{}:00000000-0000-0000-0000-000000000000",
                crate::nlu::TRAINING_VERSION,
                env!("CARGO_PKG_VERSION")
            )
        );
        let examples = [TrainingExample::new("refund please", "refund")];
        assert_eq!(
            examples_digest(&examples),
            0x948b_cf3f_af36_9877_4ef3_e880_1163_abac,
            "the same in every process and build"
        );
        let moved = [TrainingExample::new("refund", " please refund")];
        assert_ne!(
            examples_digest(&examples),
            examples_digest(&moved),
            "fields are delimited"
        );
    }
}
