//! Natural-language understanding: intent classification, trained in-process.
//!
//! The classifier is a multiclass linear SVM over TF-IDF features (word unigrams and bigrams
//! plus character 2-5-grams), chosen by measurement on CLINC150 (see the `nlu-eval` example
//! and `linear.rs`). It needs no external service and no model download, trains on 15,000
//! examples in seconds, and classifies in microseconds. Below a per-bot confidence threshold
//! the prediction is `None` (the `none` intent).
//!
//! Real users misspell: a word the bot never saw is corrected to a training word within one
//! or two edits (`refnd` → `refund`, `spelling.rs`) before it is featurized. Confidences are
//! calibrated on held-out folds of the bot's own examples (`calibrate.rs`), so the default
//! threshold means the same for a bot of 10 intents and one of 150; a bot of a single intent
//! learns against a background class, so its confidence is not stuck at one half.
//!
//! ```
//! use botbuilder_core::nlu::{IntentClassifier, TrainOptions, TrainingExample};
//!
//! let examples = [
//!     ("where is my order", "track_order"),
//!     ("has my package shipped", "track_order"),
//!     ("track my parcel", "track_order"),
//!     ("i want my money back", "refund"),
//!     ("how do i get a refund", "refund"),
//!     ("refund my purchase please", "refund"),
//! ]
//! .map(|(text, intent)| TrainingExample::new(text, intent));
//! let classifier = IntentClassifier::train(&examples, &TrainOptions::default()).unwrap();
//! let prediction = classifier.classify("where's my package?");
//! assert_eq!(prediction.intent.as_deref(), Some("track_order"));
//! ```

mod calibrate;
mod encoding;
mod entities;
mod features;
mod linear;
mod models;
mod spelling;
mod text;

use serde::{Deserialize, Serialize};

pub use encoding::DecodeError;
pub use entities::{
    BuiltinEntity, EntityDefinition, EntityError, EntityExtractor, EntityKind, EntityMatch,
    LookupValue,
};
use features::Featurizer;
use linear::LinearModel;
pub use linear::TrainParams;
pub use models::{
    BotModels, ModelCache, ModelCacheStats, ModelError, SHARED_TTL, examples_digest, shared_key,
};

/// The version of what training makes of examples: bump it whenever a change to the
/// featurizer, the optimizer, the calibration or the default [`TrainOptions`] changes the
/// classifier trained on the same examples, so instances of the new version do not load
/// models the old one shared. A test pins the encoding of a model trained on fixed examples
/// and fails until this is bumped (and its digest updated).
pub const TRAINING_VERSION: u32 = 1;
pub(crate) use text::tokens;

/// One labelled utterance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingExample {
    /// The utterance.
    pub text: String,
    /// The intent it expresses.
    pub intent: String,
}

impl TrainingExample {
    /// An example of `intent`.
    pub fn new(text: impl Into<String>, intent: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            intent: intent.into(),
        }
    }
}

/// How to train a classifier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    /// Below this confidence a prediction is `None`.
    pub threshold: f32,
    /// Features must appear in at least this many examples.
    pub min_df: u32,
    /// Optimizer settings.
    pub params: TrainParams,
    /// Fit the confidence temperature on held-out folds of the examples (about three times
    /// the training time; see `calibrate.rs`), so the default threshold suits bots of any
    /// size. Off: `params.temperature` as given.
    pub calibrate: bool,
}

impl TrainOptions {
    /// Confidence threshold used when a bot sets none. Confidences are calibrated per bot at
    /// training (see [`TrainOptions::calibrate`]), so this one value suits bots of 10 to 150
    /// intents: on CLINC150 it keeps in-scope accuracy within 3 points of top-1 (the
    /// `nlu-eval` example measures it by bot size). Bots tune it (`settings.nlu_threshold`).
    pub const DEFAULT_THRESHOLD: f32 = 0.45;
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            threshold: Self::DEFAULT_THRESHOLD,
            min_df: 1,
            params: TrainParams::default(),
            calibrate: true,
        }
    }
}

/// Why training failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NluError {
    /// There is nothing to learn from.
    #[error("no training examples")]
    NoExamples,
}

/// One candidate intent with its confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentScore {
    /// Intent name.
    pub intent: String,
    /// Probability in `0.0..=1.0`. Confidences of all intents sum to at most 1: the rest
    /// belongs to "none of them".
    pub confidence: f32,
}

/// The result of classifying one text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentPrediction {
    /// The best intent, or `None` when its confidence is below the threshold.
    pub intent: Option<String>,
    /// Confidence of the best intent (even when below the threshold).
    pub confidence: f32,
    /// The best intents, most likely first (at most [`IntentClassifier::RANKING_LEN`]).
    pub ranking: Vec<IntentScore>,
}

/// A trained intent classifier. Cheap to share (`Arc`), immutable once trained.
#[derive(Debug, Clone)]
pub struct IntentClassifier {
    featurizer: Featurizer,
    model: LinearModel,
    labels: Vec<String>,
    threshold: f32,
}

impl IntentClassifier {
    /// How many intents a prediction ranks.
    pub const RANKING_LEN: usize = 5;

    /// Trains on `examples`. Deterministic for given examples and options.
    pub fn train(examples: &[TrainingExample], options: &TrainOptions) -> Result<Self, NluError> {
        if examples.is_empty() {
            return Err(NluError::NoExamples);
        }
        let mut labels: Vec<String> = examples.iter().map(|e| e.intent.clone()).collect();
        labels.sort();
        labels.dedup();
        let featurizer = Featurizer::fit(examples.iter().map(|e| e.text.as_str()), options.min_df);
        let xs: Vec<_> = examples
            .iter()
            .map(|e| featurizer.transform(&e.text))
            .collect();
        let ys: Vec<usize> = examples
            .iter()
            .map(|e| labels.binary_search(&e.intent).unwrap_or_default())
            .collect();
        let mut model =
            LinearModel::train(&xs, &ys, featurizer.len(), labels.len(), options.params);
        if options.calibrate
            && let Some(t) = calibrate::temperature(examples, &ys, labels.len(), options)
        {
            model.set_temperature(t);
        }
        Ok(Self {
            featurizer,
            model,
            labels,
            threshold: options.threshold,
        })
    }

    /// The intents it knows, sorted.
    pub fn intents(&self) -> &[String] {
        &self.labels
    }

    /// Number of features in the learned vocabulary (the model holds this many weights per
    /// intent).
    pub fn feature_count(&self) -> usize {
        self.featurizer.len()
    }

    /// The confidence threshold.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Changes the confidence threshold.
    pub fn set_threshold(&mut self, threshold: f32) {
        self.threshold = threshold;
    }

    /// Classifies one text against the classifier's own threshold.
    pub fn classify(&self, text: &str) -> IntentPrediction {
        self.classify_with_threshold(text, self.threshold)
    }

    /// Classifies one text; below `threshold` the prediction carries no intent (a bot's own
    /// threshold, without retraining).
    pub fn classify_with_threshold(&self, text: &str, threshold: f32) -> IntentPrediction {
        self.classify_around(text, threshold, &[])
    }

    /// Like [`IntentClassifier::classify_with_threshold`], where the words inside `entities`
    /// (values the bot extracted: order numbers, emails, names) do not count as words the bot
    /// has never seen.
    pub fn classify_around(
        &self,
        text: &str,
        threshold: f32,
        entities: &[EntityMatch],
    ) -> IntentPrediction {
        // Words once (misspellings corrected), for the features and the known-word share.
        let words = self.featurizer.words(text);
        let x = self.featurizer.transform_words(&words);
        let mut probs = vec![0.0f32; self.labels.len()];
        self.model.probabilities_into(&x, &mut probs);

        let mut order: Vec<usize> = (0..probs.len()).collect();
        let top = Self::RANKING_LEN.min(order.len());
        order.select_nth_unstable_by(top - 1, |a, b| probs[*b].total_cmp(&probs[*a]));
        order.truncate(top);
        order.sort_by(|a, b| probs[*b].total_cmp(&probs[*a]));
        // A text mostly made of words the bot never saw is mostly not about its intents: the
        // confidences are scaled by the share of known words (ranking by the model alone).
        let share = if entities.is_empty() {
            self.featurizer.known_share_of(&words)
        } else {
            let mut masked = text.to_owned();
            for e in entities {
                // Same length, so the offsets of later entities stay valid.
                if masked.get(e.start..e.end).is_some() {
                    masked.replace_range(e.start..e.end, &" ".repeat(e.end - e.start));
                }
            }
            self.featurizer.known_word_share(&masked)
        };
        let ranking: Vec<IntentScore> = order
            .iter()
            .map(|&i| IntentScore {
                intent: self.labels[i].clone(),
                confidence: probs[i] * share,
            })
            .collect();
        let best = &ranking[0];
        IntentPrediction {
            intent: (best.confidence >= threshold && !x.indices.is_empty())
                .then(|| best.intent.clone()),
            confidence: best.confidence,
            ranking,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Vec<TrainingExample> {
        [
            ("what's the weather today", "weather"),
            ("will it rain tomorrow", "weather"),
            ("is it sunny outside", "weather"),
            ("how hot is it", "weather"),
            ("play some jazz", "music"),
            ("put on my playlist", "music"),
            ("play the next song", "music"),
            ("turn up the music", "music"),
            ("set an alarm for 7am", "alarm"),
            ("wake me up at six", "alarm"),
            ("cancel my alarm", "alarm"),
            ("set a wake up alarm", "alarm"),
        ]
        .map(|(t, i)| TrainingExample::new(t, i))
        .to_vec()
    }

    #[test]
    fn learns_a_toy_problem_and_ranks() {
        let c = IntentClassifier::train(&toy(), &TrainOptions::default()).unwrap();
        assert_eq!(c.intents(), ["alarm", "music", "weather"]);
        for (text, want) in [
            ("is it going to rain", "weather"),
            ("play a song", "music"),
            ("alarm at 8", "alarm"),
        ] {
            let p = c.classify(text);
            assert_eq!(p.intent.as_deref(), Some(want), "{text}: {p:?}");
            assert_eq!(p.ranking.len(), 3);
            assert!(
                p.ranking
                    .windows(2)
                    .all(|w| w[0].confidence >= w[1].confidence)
            );
            let total: f32 = p.ranking.iter().map(|r| r.confidence).sum();
            assert!(total <= 1.0 + 1e-4, "the background class keeps the rest");
        }
    }

    #[test]
    fn unknown_text_falls_back_to_none() {
        let mut c = IntentClassifier::train(&toy(), &TrainOptions::default()).unwrap();
        assert_eq!(c.classify("?! ...").intent, None, "no words at all");
        c.set_threshold(1.1);
        assert_eq!(
            c.classify("play some jazz").intent,
            None,
            "below the threshold"
        );
    }

    #[test]
    fn mostly_unknown_words_mean_low_confidence_unless_they_are_entity_values() {
        let c = IntentClassifier::train(&toy(), &TrainOptions::default()).unwrap();
        let familiar = c.classify("play some music");
        assert_eq!(familiar.intent.as_deref(), Some("music"));
        // One familiar word ("play") among strangers is not enough.
        let stranger = c.classify("can I play golf near Lisbon");
        assert_eq!(stranger.intent, None, "{stranger:?}");
        assert_eq!(stranger.ranking[0].intent, "music", "still ranked");
        // Words the bot extracted as entity values do not count as unknown.
        let text = "set an alarm for 0715 Lisbon";
        let bare = c.classify(text);
        let entities = [EntityMatch {
            entity: "time".into(),
            value: serde_json::json!("07:15"),
            text: "0715 Lisbon".into(),
            start: 17,
            end: 28,
        }];
        let around = c.classify_around(text, c.threshold(), &entities);
        assert_eq!(around.ranking[0].intent, "alarm");
        assert!(
            around.confidence > bare.confidence,
            "{around:?} vs {bare:?}"
        );
        assert_eq!(around.intent.as_deref(), Some("alarm"));
    }

    fn shop() -> Vec<TrainingExample> {
        [
            ("i want a refund", "refund"),
            ("refund my order", "refund"),
            ("can i get my money back", "refund"),
            ("how do i get a refund", "refund"),
            ("what are your opening hours", "hours"),
            ("when are you open", "hours"),
            ("opening hours on sunday", "hours"),
            ("what time do you close", "hours"),
            ("where is my parcel", "tracking"),
            ("track my order", "tracking"),
            ("has my package shipped", "tracking"),
            ("tracking number please", "tracking"),
        ]
        .map(|(t, i)| TrainingExample::new(t, i))
        .to_vec()
    }

    #[test]
    fn a_small_misspelling_still_reaches_its_intent() {
        let c = IntentClassifier::train(&shop(), &TrainOptions::default()).unwrap();
        for (text, want) in [
            ("refnd", "refund"),
            ("i want a refnud", "refund"),
            ("openning hours", "hours"),
            ("trakcing number", "tracking"),
        ] {
            let p = c.classify(text);
            assert_eq!(p.intent.as_deref(), Some(want), "{text}: {p:?}");
        }
        assert_eq!(c.classify("purple elephants dance").intent, None);
    }

    #[test]
    fn a_single_intent_bot_is_confident_about_its_intent() {
        let examples: Vec<TrainingExample> = [
            "book a table",
            "reserve a table for two",
            "i want to book dinner",
            "table for four tonight",
        ]
        .iter()
        .map(|t| TrainingExample::new(*t, "booking"))
        .collect();
        let c = IntentClassifier::train(&examples, &TrainOptions::default()).unwrap();
        let p = c.classify_with_threshold("book a table for two", 0.8);
        assert_eq!(p.intent.as_deref(), Some("booking"), "{p:?}");
        assert!(p.confidence > 0.8, "{p:?}");
        let other = c.classify_with_threshold("what is the weather in Lisbon", 0.45);
        assert_eq!(other.intent, None, "{other:?}");
    }

    #[test]
    fn training_is_deterministic() {
        let a = IntentClassifier::train(&toy(), &TrainOptions::default()).unwrap();
        let b = IntentClassifier::train(&toy(), &TrainOptions::default()).unwrap();
        assert_eq!(a.classify("play jazz"), b.classify("play jazz"));
        assert!(matches!(
            IntentClassifier::train(&[], &TrainOptions::default()),
            Err(NluError::NoExamples)
        ));
    }
}
