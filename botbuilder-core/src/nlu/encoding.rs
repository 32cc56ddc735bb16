//! A trained classifier as bytes, so instances can share a model instead of each training
//! its own (see [`super::ModelCache`]).
//!
//! Layout: the 8-byte [`MAGIC`] (whose last byte is the format version), then one
//! [postcard](https://postcard.jamesmunns.com/wire-format) record: the labels and threshold,
//! the vocabulary (the feature hash of each index, in index order) with its IDF, the
//! speller's words with their document counts (its delete index is derived again on decoding),
//! and the linear model. The model's weight matrix is mostly zeros (an update touches two
//! classes of the features of one example), so only its non-zero entries are written, each as
//! the number of zeros before it and its value.
//!
//! Bytes come from a shared cache, so decoding checks every length and index and refuses
//! what does not fit, rather than trusting it: a decoded classifier never panics on use.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::IntentClassifier;
use super::features::Featurizer;
use super::linear::LinearModel;
use super::spelling::Speller;

/// The version of the layout below; a change of the layout (or of what a field means) takes a
/// new one.
pub(super) const FORMAT_VERSION: u8 = 1;

/// The first bytes of an encoded classifier: `BBNLU`, two zeros, and [`FORMAT_VERSION`].
const MAGIC: [u8; 8] = [b'B', b'B', b'N', b'L', b'U', 0, 0, FORMAT_VERSION];

/// The largest weight matrix decoding accepts (features × intents): 2^28 weights, 1 GiB of
/// `f32`. A model of 150 intents trained on 15,000 examples has about a fifteenth of that
/// (117k features).
const MAX_WEIGHTS: usize = 1 << 28;

/// Why bytes are not a classifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes do not start with [`MAGIC`]: another format version, or not a classifier.
    #[error("not an encoded classifier of this format version")]
    Format,
    /// The record is cut short or malformed.
    #[error("malformed classifier record: {0}")]
    Malformed(String),
    /// The record is well-formed but its parts disagree (lengths, indexes, non-finite
    /// numbers, or a size past the limit).
    #[error("inconsistent classifier: {0}")]
    Inconsistent(&'static str),
}

#[derive(Serialize, Deserialize)]
struct Record {
    labels: Vec<String>,
    threshold: f32,
    features: Vec<u64>,
    idf: Vec<f32>,
    unseen_idf: f32,
    words: Vec<(String, u32)>,
    temperature: f32,
    bias: Vec<f32>,
    /// Non-zero weights: (zeros since the previous non-zero weight, value).
    weights: Vec<(u32, f32)>,
}

impl IntentClassifier {
    /// The classifier as bytes (see the module docs); [`IntentClassifier::decode`] gives it
    /// back, classifying exactly as this one does.
    pub fn encode(&self) -> Vec<u8> {
        let featurizer = &self.featurizer;
        let mut features = vec![0u64; featurizer.idf.len()];
        for (&hash, &index) in &featurizer.vocab {
            features[index as usize] = hash;
        }
        let mut words: Vec<(String, u32)> = featurizer
            .speller
            .counts()
            .iter()
            .map(|(word, count)| (word.clone(), *count))
            .collect();
        words.sort_unstable();
        let mut weights = Vec::new();
        let mut zeros = 0u32;
        for &w in &self.model.weights {
            if w == 0.0 {
                zeros += 1;
            } else {
                weights.push((zeros, w));
                zeros = 0;
            }
        }
        let record = Record {
            labels: self.labels.clone(),
            threshold: self.threshold,
            features,
            idf: featurizer.idf.clone(),
            unseen_idf: featurizer.unseen_idf,
            words,
            temperature: self.model.temperature,
            bias: self.model.bias.clone(),
            weights,
        };
        postcard::to_extend(&record, MAGIC.to_vec()).expect("writing to a Vec cannot fail")
    }

    /// The classifier [`IntentClassifier::encode`] wrote.
    ///
    /// # Errors
    /// [`DecodeError`] when `bytes` are of another format version, cut short, or
    /// inconsistent; nothing in them is trusted.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let body = bytes.strip_prefix(&MAGIC).ok_or(DecodeError::Format)?;
        let (record, rest): (Record, _) =
            postcard::take_from_bytes(body).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(DecodeError::Malformed("bytes after the record".into()));
        }
        let classes = record.labels.len();
        if classes == 0 || record.bias.len() != classes {
            return Err(DecodeError::Inconsistent("labels and biases"));
        }
        if !record.labels.windows(2).all(|pair| pair[0] < pair[1]) {
            return Err(DecodeError::Inconsistent("labels not sorted and distinct"));
        }
        if record.idf.len() != record.features.len() {
            return Err(DecodeError::Inconsistent("vocabulary and IDF"));
        }
        let len = record
            .features
            .len()
            .checked_mul(classes)
            .filter(|len| *len <= MAX_WEIGHTS)
            .ok_or(DecodeError::Inconsistent("weight matrix too large"))?;
        let finite = [record.threshold, record.unseen_idf, record.temperature]
            .iter()
            .chain(&record.idf)
            .chain(&record.bias)
            .chain(record.weights.iter().map(|(_, w)| w))
            .all(|x| x.is_finite());
        if !finite {
            return Err(DecodeError::Inconsistent("a number is not finite"));
        }
        let mut weights = vec![0.0f32; len];
        let mut at = 0usize;
        for (zeros, value) in record.weights {
            at = at
                .checked_add(zeros as usize)
                .filter(|at| *at < len)
                .ok_or(DecodeError::Inconsistent("weight index out of range"))?;
            weights[at] = value;
            at += 1;
        }
        let mut vocab = HashMap::with_capacity(record.features.len());
        for (index, hash) in record.features.into_iter().enumerate() {
            let index =
                u32::try_from(index).map_err(|_| DecodeError::Inconsistent("vocabulary"))?;
            if vocab.insert(hash, index).is_some() {
                return Err(DecodeError::Inconsistent("a feature appears twice"));
            }
        }
        Ok(Self {
            featurizer: Featurizer {
                vocab,
                idf: record.idf,
                unseen_idf: record.unseen_idf,
                speller: Speller::from_counts(record.words.into_iter().collect()),
            },
            model: LinearModel {
                classes,
                temperature: record.temperature,
                weights,
                bias: record.bias,
            },
            labels: record.labels,
            threshold: record.threshold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlu::{TrainOptions, TrainingExample};

    fn trained() -> IntentClassifier {
        let examples = [
            ("where is my order", "track_order"),
            ("has my package shipped yet", "track_order"),
            ("track my parcel please", "track_order"),
            ("i want my money back", "refund"),
            ("how do i get a refund", "refund"),
            ("refund my purchase please", "refund"),
            ("what are your opening hours", "hours"),
            ("when do you open tomorrow", "hours"),
        ]
        .map(|(text, intent)| TrainingExample::new(text, intent));
        IntentClassifier::train(&examples, &TrainOptions::default()).unwrap()
    }

    #[test]
    fn a_decoded_classifier_classifies_exactly_as_the_trained_one() {
        let classifier = trained();
        let bytes = classifier.encode();
        assert!(bytes.starts_with(&MAGIC));
        let decoded = IntentClassifier::decode(&bytes).unwrap();
        assert_eq!(decoded.intents(), classifier.intents());
        assert_eq!(decoded.threshold(), classifier.threshold());
        assert_eq!(decoded.feature_count(), classifier.feature_count());
        for text in [
            "where's my package?",
            "refnd my purchse",
            "opening hours tomorrow",
            "something else entirely",
            "",
        ] {
            assert_eq!(decoded.classify(text), classifier.classify(text), "{text}");
        }
        assert_eq!(decoded.encode(), bytes, "encoding is deterministic");
    }

    /// Fails when training changes what it makes of the same examples: bump
    /// [`crate::nlu::TRAINING_VERSION`] (so no instance loads a model of the old training from
    /// a shared cache) and put the new digest here.
    #[test]
    fn training_is_pinned_to_its_version() {
        let mut digest: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
        for b in trained().encode() {
            digest ^= u128::from(b);
            digest = digest.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
        assert_eq!(
            (crate::nlu::TRAINING_VERSION, digest),
            (1, 0xbc6b_8da0_365d_4fb8_4389_7fae_119e_bf25),
            "training changed: bump TRAINING_VERSION and pin the new digest"
        );
    }

    #[test]
    fn only_non_zero_weights_are_written() {
        // Ten intents of words of their own: a feature's weights are non-zero only for the
        // intents it was compared between.
        let examples: Vec<TrainingExample> = (0..10)
            .flat_map(|i| {
                [
                    TrainingExample::new(format!("alpha{i} beta{i} gamma{i}"), format!("i{i}")),
                    TrainingExample::new(format!("delta{i} alpha{i} omega{i}"), format!("i{i}")),
                ]
            })
            .collect();
        let classifier = IntentClassifier::train(&examples, &TrainOptions::default()).unwrap();
        let record = record_of(&classifier);
        let non_zero = classifier
            .model
            .weights
            .iter()
            .filter(|w| **w != 0.0)
            .count();
        assert_eq!(record.weights.len(), non_zero);
        let decoded = IntentClassifier::decode(&classifier.encode()).unwrap();
        assert_eq!(decoded.model.weights, classifier.model.weights);
    }

    #[test]
    fn bytes_of_another_version_or_cut_short_are_refused() {
        let bytes = trained().encode();
        let mut other = bytes.clone();
        other[7] = 2;
        assert_eq!(
            IntentClassifier::decode(&other).unwrap_err(),
            DecodeError::Format
        );
        assert_eq!(
            IntentClassifier::decode(b"").unwrap_err(),
            DecodeError::Format
        );
        for cut in [8, 9, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                matches!(
                    IntentClassifier::decode(&bytes[..cut]),
                    Err(DecodeError::Malformed(_))
                ),
                "cut at {cut}"
            );
        }
        let mut longer = bytes;
        longer.push(0);
        assert!(matches!(
            IntentClassifier::decode(&longer),
            Err(DecodeError::Malformed(_))
        ));
    }

    fn record_of(classifier: &IntentClassifier) -> Record {
        let bytes = classifier.encode();
        postcard::from_bytes(&bytes[MAGIC.len()..]).unwrap()
    }

    fn encoded(record: &Record) -> Vec<u8> {
        postcard::to_extend(record, MAGIC.to_vec()).unwrap()
    }

    #[test]
    fn inconsistent_records_are_refused_rather_than_trusted() {
        let classifier = trained();
        type Breakage = (&'static str, fn(&mut Record));
        let cases: [Breakage; 8] = [
            ("labels out of order", |r| r.labels.swap(0, 1)),
            ("no labels", |r| {
                r.labels.clear();
                r.bias.clear();
            }),
            ("a bias short", |r| {
                r.bias.pop();
            }),
            ("an IDF short", |r| {
                r.idf.pop();
            }),
            ("a weight past the matrix", |r| {
                r.weights.push((u32::MAX, 1.0));
            }),
            ("a feature twice", |r| r.features[1] = r.features[0]),
            ("a NaN weight", |r| r.weights[0].1 = f32::NAN),
            ("a matrix past the limit", |r| {
                let classes = MAX_WEIGHTS / r.features.len() + 1;
                r.labels = vec![String::new(); classes];
                r.bias = vec![0.0; classes];
            }),
        ];
        for (what, break_it) in cases {
            let mut record = record_of(&classifier);
            break_it(&mut record);
            assert!(
                matches!(
                    IntentClassifier::decode(&encoded(&record)),
                    Err(DecodeError::Inconsistent(_))
                ),
                "{what}"
            );
        }
    }
}
