//! Spelling correction against the training vocabulary, so a small misspelling of a trained
//! word (`refnd`, `openning`) still reaches its intent.
//!
//! The symmetric-delete method (SymSpell, Wolf Garbe 2012): every training word of four or more
//! letters is stored under each string made by deleting up to [`max_distance`] of its
//! characters; an unknown word is looked up by its own deletes, and the candidates are checked
//! with the optimal-string-alignment Damerau–Levenshtein distance (`strsim`: insertions,
//! deletions, substitutions, adjacent transpositions). The closest candidate wins, then the one in most training examples. Short
//! words, words with digits and words the vocabulary knows are left alone.

use std::collections::HashMap;

/// Shortest word corrected, in characters.
const MIN_LEN: usize = 4;
/// Longest word corrected (or learned as a correction), in characters: real words are
/// shorter, and the delete neighbourhood of a word grows with the square of its length.
const MAX_LEN: usize = 24;

/// Edits allowed for a word of `len` characters: one up to seven, two from eight.
fn max_distance(len: usize) -> usize {
    if len >= 8 { 2 } else { 1 }
}

/// Every string made by deleting up to `depth` characters of `word` (the word included),
/// each once. Words are at most [`MAX_LEN`] characters, so this is at most a few hundred.
fn deletes(word: &[char], depth: usize, out: &mut std::collections::HashSet<String>) {
    if !out.insert(word.iter().collect()) || depth == 0 || word.len() <= 1 {
        return;
    }
    for i in 0..word.len() {
        let mut shorter = word.to_vec();
        shorter.remove(i);
        deletes(&shorter, depth - 1, out);
    }
}

/// The vocabulary and its delete index (see the module docs).
#[derive(Debug, Clone, Default)]
pub(crate) struct Speller {
    /// Words with the number of training texts holding them.
    counts: HashMap<String, u32>,
    words: Vec<String>,
    /// Delete string → indexes into `words`.
    index: HashMap<String, Vec<u32>>,
}

impl Speller {
    /// Learns the words of `texts` (already tokenized).
    pub(crate) fn fit<'a>(texts: impl Iterator<Item = &'a [String]>) -> Self {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for words in texts {
            let mut seen: Vec<&String> = words.iter().collect();
            seen.sort_unstable();
            seen.dedup();
            for word in seen {
                *counts.entry(word.clone()).or_default() += 1;
            }
        }
        Self::from_counts(counts)
    }

    /// The speller of a vocabulary: each word with the number of training texts holding it
    /// (what [`Speller::counts`] returns). The delete index is derived from it.
    pub(crate) fn from_counts(counts: HashMap<String, u32>) -> Self {
        let mut words: Vec<String> = counts.keys().filter(|w| correctable(w)).cloned().collect();
        words.sort_unstable();
        let mut index: HashMap<String, Vec<u32>> = HashMap::new();
        let mut buf = std::collections::HashSet::new();
        for (i, word) in words.iter().enumerate() {
            let chars: Vec<char> = word.chars().collect();
            buf.clear();
            deletes(&chars, max_distance(chars.len()), &mut buf);
            for delete in buf.drain() {
                index
                    .entry(delete)
                    .or_default()
                    .push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        Self {
            counts,
            words,
            index,
        }
    }

    /// The vocabulary: each word with the number of training texts holding it.
    pub(crate) fn counts(&self) -> &HashMap<String, u32> {
        &self.counts
    }

    /// Whether the vocabulary has `word`.
    pub(crate) fn knows(&self, word: &str) -> bool {
        self.counts.contains_key(word)
    }

    /// The vocabulary word `word` is most likely a misspelling of, if any (`None` for known,
    /// short or numeric words, and for words with no close match).
    pub(crate) fn correct(&self, word: &str) -> Option<&str> {
        if self.knows(word) || !correctable(word) {
            return None;
        }
        let chars: Vec<char> = word.chars().collect();
        let limit = max_distance(chars.len());
        let mut probes = std::collections::HashSet::new();
        deletes(&chars, limit, &mut probes);
        let mut best: Option<(usize, u32, &str)> = None;
        for probe in &probes {
            for &i in self.index.get(probe).into_iter().flatten() {
                let candidate = &self.words[i as usize];
                let d = strsim::osa_distance(word, candidate);
                if d > limit.min(max_distance(candidate.chars().count())) {
                    continue;
                }
                let count = self.counts[candidate];
                let better = best.is_none_or(|(bd, bc, bw)| {
                    (d, std::cmp::Reverse(count), candidate.as_str())
                        < (bd, std::cmp::Reverse(bc), bw)
                });
                if better {
                    best = Some((d, count, candidate));
                }
            }
        }
        best.map(|(_, _, word)| word)
    }
}

/// Whether a word is of a word's length, and free of digits, to be corrected or a
/// correction.
fn correctable(word: &str) -> bool {
    let len = word.chars().count();
    (MIN_LEN..=MAX_LEN).contains(&len) && !word.chars().any(|c| c.is_numeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speller(texts: &[&str]) -> Speller {
        let tokenized: Vec<Vec<String>> = texts
            .iter()
            .map(|t| super::super::text::tokens(t))
            .collect();
        Speller::fit(tokenized.iter().map(Vec::as_slice))
    }

    #[test]
    fn small_misspellings_find_their_word() {
        let s = speller(&[
            "i want a refund",
            "what are your opening hours",
            "refund my order please",
            "reset my password",
            "international shipping",
        ]);
        assert_eq!(s.correct("refnd"), Some("refund"));
        assert_eq!(s.correct("rfund"), Some("refund"));
        assert_eq!(s.correct("reufnd"), Some("refund"), "a transposition");
        assert_eq!(s.correct("openning"), Some("opening"));
        assert_eq!(s.correct("pasword"), Some("password"));
        assert_eq!(s.correct("internatoinal"), Some("international"));
        assert_eq!(s.correct("refund"), None, "known");
        assert_eq!(s.correct("golf"), None, "nothing close");
        assert_eq!(s.correct("ordr"), Some("order"));
        assert_eq!(s.correct("12345"), None, "numbers are left alone");
        assert_eq!(s.correct("hrs"), None, "too short");
        let huge = "a".repeat(16 * 1024);
        assert_eq!(s.correct(&huge), None, "far too long to be a word");
        let trained = speller(&[&huge]);
        assert!(trained.index.is_empty(), "nor learned as one");
    }
}
