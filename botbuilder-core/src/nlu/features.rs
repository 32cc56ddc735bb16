//! TF-IDF features: word unigrams and bigrams plus character n-grams (2 to 5) inside word
//! boundaries, each group L2-normalized, hashed to 64 bits and mapped to a dense index by a
//! vocabulary learned at training time. Words the vocabulary does not know are first
//! corrected to a close training word when there is one ([`super::spelling`]).

use std::collections::HashMap;

use super::spelling::Speller;
use super::text::{fnv1a, tokens};

/// Smallest and largest character n-gram.
const CHAR_NGRAMS: std::ops::RangeInclusive<usize> = 2..=5;
/// Weight of the word group relative to the character group.
const WORD_WEIGHT: f32 = 1.0;
/// Weight of the character group.
const CHAR_WEIGHT: f32 = 1.0;

/// A sparse, L2-normalized feature vector.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SparseVec {
    pub(crate) indices: Vec<u32>,
    pub(crate) values: Vec<f32>,
}

/// Raw feature hashes of a text's words with their counts, split into the word and
/// character groups.
fn raw_features(words: &[String]) -> (HashMap<u64, f32>, HashMap<u64, f32>) {
    let mut word = HashMap::new();
    let mut chars = HashMap::new();
    for w in words {
        *word.entry(fnv1a(&[b"w:", w.as_bytes()])).or_insert(0.0) += 1.0;
        let padded: Vec<char> = std::iter::once(' ')
            .chain(w.chars())
            .chain(std::iter::once(' '))
            .collect();
        let mut buf = String::new();
        for n in CHAR_NGRAMS {
            for gram in padded.windows(n) {
                buf.clear();
                buf.extend(gram);
                *chars.entry(fnv1a(&[b"c:", buf.as_bytes()])).or_insert(0.0) += 1.0;
            }
        }
    }
    for pair in words.windows(2) {
        let key = fnv1a(&[b"b:", pair[0].as_bytes(), b" ", pair[1].as_bytes()]);
        *word.entry(key).or_insert(0.0) += 1.0;
    }
    (word, chars)
}

/// The learned vocabulary and inverse document frequencies.
///
/// Features outside the vocabulary have no weight of their own but still count towards the
/// norm of their group (at the IDF of a never-seen feature), so a text made mostly of unknown
/// words yields a short vector, low scores and a low confidence, instead of being scaled up
/// as if its one familiar word were all it said.
#[derive(Debug, Clone, Default)]
pub(crate) struct Featurizer {
    /// Feature hash → index (`0..idf.len()`).
    pub(super) vocab: HashMap<u64, u32>,
    /// Inverse document frequency of each feature, by index.
    pub(super) idf: Vec<f32>,
    /// The IDF of a feature no training text had.
    pub(super) unseen_idf: f32,
    pub(super) speller: Speller,
}

impl Featurizer {
    /// Learns the vocabulary (features seen in at least `min_df` texts) and smoothed IDF.
    pub(crate) fn fit<'a>(texts: impl Iterator<Item = &'a str>, min_df: u32) -> Self {
        let tokenized: Vec<Vec<String>> = texts.map(tokens).collect();
        let mut df: HashMap<u64, u32> = HashMap::new();
        let mut n_docs = 0u32;
        for words in &tokenized {
            n_docs += 1;
            let (word, chars) = raw_features(words);
            for key in word.keys().chain(chars.keys()) {
                *df.entry(*key).or_insert(0) += 1;
            }
        }
        let mut kept: Vec<(u64, u32)> = df.into_iter().filter(|(_, d)| *d >= min_df).collect();
        kept.sort_unstable();
        let mut vocab = HashMap::with_capacity(kept.len());
        let mut idf = Vec::with_capacity(kept.len());
        let n = n_docs as f32;
        for (i, (key, d)) in kept.into_iter().enumerate() {
            vocab.insert(key, i as u32);
            idf.push(((1.0 + n) / (1.0 + d as f32)).ln() + 1.0);
        }
        Self {
            vocab,
            idf,
            unseen_idf: (1.0 + n).ln() + 1.0,
            speller: Speller::fit(tokenized.iter().map(Vec::as_slice)),
        }
    }

    /// The words of `text`, misspellings of training words corrected.
    pub(crate) fn words(&self, text: &str) -> Vec<String> {
        tokens(text)
            .into_iter()
            .map(|w| match self.speller.correct(&w) {
                Some(fixed) => fixed.to_owned(),
                None => w,
            })
            .collect()
    }

    /// The share of `text`'s words the vocabulary knows, corrections included (1 for a text
    /// without words).
    pub(crate) fn known_word_share(&self, text: &str) -> f32 {
        self.known_share_of(&self.words(text))
    }

    /// [`Featurizer::known_word_share`] of words already taken from a text.
    pub(crate) fn known_share_of(&self, words: &[String]) -> f32 {
        if words.is_empty() {
            return 1.0;
        }
        let known = words
            .iter()
            .filter(|w| self.vocab.contains_key(&fnv1a(&[b"w:", w.as_bytes()])))
            .count();
        known as f32 / words.len() as f32
    }

    /// Number of features.
    pub(crate) fn len(&self) -> usize {
        self.idf.len()
    }

    /// The TF-IDF vector of `text` (sublinear TF, each group L2-normalized and weighted).
    pub(crate) fn transform(&self, text: &str) -> SparseVec {
        self.transform_words(&self.words(text))
    }

    /// [`Featurizer::transform`] of words already taken from a text.
    pub(crate) fn transform_words(&self, words: &[String]) -> SparseVec {
        let (word, chars) = raw_features(words);
        let mut out = SparseVec::default();
        for (group, weight) in [(word, WORD_WEIGHT), (chars, CHAR_WEIGHT)] {
            let start = out.indices.len();
            let mut unseen_sq = 0.0f32;
            // Sorted by index: deterministic float sums, and rows visited in memory order.
            let mut known: Vec<(u32, f32)> = Vec::with_capacity(group.len());
            for (key, count) in group {
                match self.vocab.get(&key) {
                    Some(&i) => known.push((i, count)),
                    None => unseen_sq += ((1.0 + count.ln()) * self.unseen_idf).powi(2),
                }
            }
            known.sort_unstable_by_key(|(i, _)| *i);
            for (i, count) in known {
                out.indices.push(i);
                out.values.push((1.0 + count.ln()) * self.idf[i as usize]);
            }
            let norm = (out.values[start..].iter().map(|v| v * v).sum::<f32>() + unseen_sq).sqrt();
            if norm > 0.0 {
                out.values[start..]
                    .iter_mut()
                    .for_each(|v| *v *= weight / norm);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unseen_features_are_dropped_and_groups_normalized() {
        let f = Featurizer::fit(["book a flight", "cancel my flight"].into_iter(), 1);
        assert!(f.len() > 10);
        let v = f.transform("book a flight");
        let norm: f32 = v.values.iter().map(|x| x * x).sum::<f32>();
        assert!((norm - 2.0).abs() < 1e-4, "two unit-norm groups: {norm}");
        assert!(f.transform("zzzz qqqq").indices.is_empty());
    }
}
