//! An in-process BM25 index: one per knowledge base, beside its vector index.
//!
//! Text is cut into words at Unicode word boundaries (UAX #29), lower-cased, stripped of
//! [`STOPWORDS`] and stemmed (Snowball English), like SQLite's `porter unicode61` tokenizer.
//! Chinese, Japanese and Korean text, written without spaces, is indexed as overlapping
//! character bigrams (a lone character as itself), as Lucene's CJK analyzer does: `退货政策`
//! gives `退货 货政 政策`, so a search for `退货` finds it. A chunk is indexed with its
//! document's title (counted twice) and its heading path before its text
//! ([`KeywordIndex::build_chunks`]), so a document is found by its title. A search adds each
//! query term's BM25 contribution (`k1` 1.2, `b` 0.75, the always-positive Lucene IDF) into one
//! score per chunk, walking only the postings of the query's terms, then keeps the best `k`.
//!
//! Why not the store's full-text search alone: SQLite FTS5 scores *every* chunk matching any
//! query term before sorting, so a query with one common word costs tens of milliseconds at
//! 10,000 chunks (the `search-bench` example measures both), and its term statistics span all
//! organizations in the table. Here the statistics are the knowledge base's own, and the cost
//! is the length of the query terms' postings.

use std::collections::HashMap;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

use super::STOPWORDS;
use super::vector::top_k;
use crate::id::ChunkId;

/// BM25 term-frequency saturation.
pub const K1: f32 = 1.2;
/// BM25 length normalization.
pub const B: f32 = 0.75;

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Whether `c` is written without spaces between words: Han, Hiragana, Katakana, Hangul.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK unified ideographs extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x1100..=0x11FF    // Hangul jamo
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width Katakana
        | 0x20000..=0x2FA1F) // CJK extensions B-F, compatibility supplement
}

/// Bigrams of a run of CJK characters (the character itself when alone).
fn push_bigrams(run: &mut Vec<char>, out: &mut Vec<String>) {
    match run.len() {
        0 => {}
        1 => out.push(run[0].to_string()),
        _ => out.extend(run.windows(2).map(|pair| pair.iter().collect())),
    }
    run.clear();
}

/// The index terms of `text`, in order (repeats kept; see the module docs).
pub fn terms(text: &str) -> Vec<String> {
    use unicode_segmentation::UnicodeSegmentation;
    let stemmer = stemmer();
    let mut out = Vec::new();
    let mut run: Vec<char> = Vec::new();
    for segment in text.split_word_bounds() {
        if segment.chars().all(is_cjk) {
            run.extend(segment.chars());
            continue;
        }
        push_bigrams(&mut run, &mut out);
        // Words of other scripts, and the letters and digits of mixed segments.
        for word in segment
            .split(|c: char| !c.is_alphanumeric() || is_cjk(c))
            .filter(|w| !w.is_empty())
        {
            let word = word.to_lowercase();
            if !STOPWORDS.contains(&word.as_str()) {
                out.push(stemmer.stem(&word).into_owned());
            }
        }
        let cjk_inside: Vec<char> = segment.chars().filter(|c| is_cjk(*c)).collect();
        if !cjk_inside.is_empty() {
            run.extend(cjk_inside);
            push_bigrams(&mut run, &mut out);
        }
    }
    push_bigrams(&mut run, &mut out);
    out
}

/// The index (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct KeywordIndex {
    ids: Vec<ChunkId>,
    /// Terms per chunk.
    lengths: Vec<u32>,
    average_length: f32,
    /// Term → (chunk row, occurrences in it), rows ascending.
    postings: HashMap<String, Vec<(u32, u32)>>,
}

impl KeywordIndex {
    /// Indexes chunks with their titles and headings (see the module docs).
    pub fn build_chunks(chunks: &[crate::domain::ChunkText]) -> Self {
        Self::build(chunks.iter().map(|chunk| {
            let headings = chunk.heading_path.join(" \n");
            let text = format!(
                "{title}\n{title}\n{headings}\n{}",
                chunk.text,
                title = chunk.title
            );
            (chunk.id, text)
        }))
    }

    /// Indexes `(id, text)` pairs.
    pub fn build<T: AsRef<str>>(chunks: impl IntoIterator<Item = (ChunkId, T)>) -> Self {
        let mut index = Self::default();
        let mut total: u64 = 0;
        for (row, (id, text)) in chunks.into_iter().enumerate() {
            let row = u32::try_from(row).unwrap_or(u32::MAX);
            let terms = terms(text.as_ref());
            let length = u32::try_from(terms.len()).unwrap_or(u32::MAX);
            let mut counts: HashMap<String, u32> = HashMap::new();
            for term in terms {
                *counts.entry(term).or_default() += 1;
            }
            for (term, count) in counts {
                index.postings.entry(term).or_default().push((row, count));
            }
            index.ids.push(id);
            index.lengths.push(length);
            total += u64::from(length);
        }
        #[allow(clippy::cast_precision_loss)] // an average
        {
            index.average_length = total as f32 / index.ids.len().max(1) as f32;
        }
        index
    }

    /// How many chunks it holds.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The `k` chunks scoring best for `query` (BM25, higher is better), best first; chunks
    /// sharing no term with the query are never returned.
    ///
    /// Terms are added rarest first. Before a common term (in more than an eighth of the
    /// chunks), if the k-th best score so far already beats the most the remaining terms
    /// could add to a chunk not yet scored, the remaining terms only update chunks already
    /// scored: the top k is the same, without ranking every chunk that holds a common word.
    pub fn search(&self, query: &str, k: usize) -> Vec<(ChunkId, f32)> {
        let mut query_terms = terms(query);
        query_terms.sort_unstable();
        query_terms.dedup();
        if k == 0 || self.ids.is_empty() {
            return Vec::new();
        }
        #[allow(clippy::cast_precision_loss)] // counts as floats for a score
        let n = self.ids.len() as f32;
        let mut postings: Vec<(f32, &[(u32, u32)])> = query_terms
            .iter()
            .filter_map(|term| self.postings.get(term))
            .map(|list| {
                #[allow(clippy::cast_precision_loss)]
                let df = list.len() as f32;
                ((1.0 + (n - df + 0.5) / (df + 0.5)).ln(), list.as_slice())
            })
            .collect();
        postings.sort_by_key(|(_, list)| list.len());
        // The most a term can add to one chunk: tf / (tf + norm) < 1.
        let bound = |idf: f32| idf * (K1 + 1.0);
        let mut remaining: f32 = postings.iter().map(|(idf, _)| bound(*idf)).sum();
        let mut scores = vec![0.0f32; self.ids.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut closed = false;
        for (idf, list) in postings {
            if !closed && list.len() > self.ids.len() / 8 && touched.len() >= k {
                let kth = top_k(touched.iter().map(|&r| (r as usize, scores[r as usize])), k)
                    .last()
                    .map_or(0.0, |(_, score)| *score);
                closed = kth > remaining;
            }
            remaining -= bound(idf);
            for &(row, count) in list {
                let slot = &mut scores[row as usize];
                if *slot == 0.0 {
                    if closed {
                        continue;
                    }
                    touched.push(row);
                }
                #[allow(clippy::cast_precision_loss)]
                let (tf, length) = (count as f32, self.lengths[row as usize] as f32);
                let norm = K1 * (1.0 - B + B * length / self.average_length.max(1.0));
                *slot += idf * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        let candidates = touched
            .into_iter()
            .map(|row| (row as usize, scores[row as usize]));
        top_k(candidates, k)
            .into_iter()
            .map(|(row, score)| (self.ids[row], score))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lower_cased_stemmed_and_without_stopwords() {
        assert_eq!(
            terms("The Refunds were PAID, refunding 3 orders!"),
            vec!["refund", "paid", "refund", "3", "order"]
        );
        assert_eq!(terms("مرحبا 🤖 naïve"), vec!["مرحبا", "naïv"]);
    }

    #[test]
    fn cjk_text_is_indexed_as_bigrams() {
        assert_eq!(terms("退货政策"), ["退货", "货政", "政策"]);
        assert_eq!(
            terms("退货，政策"),
            ["退货", "政策"],
            "not across punctuation"
        );
        assert_eq!(
            terms("返品ポリシー"),
            ["返品", "品ポ", "ポリ", "リシ", "シー"]
        );
        assert_eq!(terms("iPhone退货 policy"), ["iphon", "退货", "polici"]);
        assert_eq!(terms("家"), ["家"]);
        let (policy, other) = (ChunkId::new(), ChunkId::new());
        let index = KeywordIndex::build([
            (policy, "我们的退货政策：三十天内可以退货。"),
            (other, "运费说明"),
        ]);
        assert_eq!(index.search("退货", 5)[0].0, policy);
        assert_eq!(index.search("退货政策是什么", 5)[0].0, policy);
        // Other scripts split at Unicode word boundaries.
        assert_eq!(terms("naïve café"), ["naïv", "café"]);
    }

    #[test]
    fn a_document_is_found_by_its_title_and_headings() {
        use crate::domain::ChunkText;
        use crate::id::DocumentId;
        let chunk = |title: &str, headings: &[&str], text: &str| ChunkText {
            id: ChunkId::new(),
            document_id: DocumentId::new(),
            title: title.into(),
            heading_path: headings.iter().map(|h| (*h).to_owned()).collect(),
            text: text.into(),
        };
        let faq = chunk(
            "How do I reset my password?",
            &[],
            "Open settings and choose the link we email you.",
        );
        let other = chunk(
            "Shipping",
            &["Costs"],
            "Password protected parcels ship free.",
        );
        let index = KeywordIndex::build_chunks(&[faq.clone(), other.clone()]);
        assert_eq!(index.search("reset my password", 2)[0].0, faq.id);
        assert_eq!(
            index.search("costs", 2)[0].0,
            other.id,
            "headings count too"
        );
    }

    #[test]
    fn bm25_prefers_rare_terms_short_chunks_and_repeats() {
        let (a, b, c, d) = (
            ChunkId::new(),
            ChunkId::new(),
            ChunkId::new(),
            ChunkId::new(),
        );
        let index = KeywordIndex::build([
            (a, "refunds are paid within five days of the return"),
            (b, "shipping is free above fifty euros and returns are easy"),
            (
                c,
                "refund refund refund: the refund desk handles every refund question here",
            ),
            (d, "gift cards never expire"),
        ]);
        let hits = index.search("how do refunds work", 10);
        let ids: Vec<ChunkId> = hits.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, vec![c, a], "{hits:?}");
        assert!(hits[0].1 > hits[1].1 && hits[1].1 > 0.0);
        // A rare term outweighs a common one.
        let hits = index.search("returns gift", 10);
        assert_eq!(hits[0].0, d, "{hits:?}");
        assert_eq!(index.search("gift", 1).len(), 1);
        assert!(index.search("the and of", 10).is_empty(), "stopwords only");
        assert!(index.search("zebra", 10).is_empty());
        assert!(KeywordIndex::default().search("refund", 10).is_empty());
    }

    /// The early stop on common terms never changes the top k: compared with scoring every
    /// chunk, on text where a few words are everywhere.
    #[test]
    fn skipping_common_terms_keeps_the_exact_top_k() {
        let words = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
        ];
        let mut state = 7u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let texts: Vec<(ChunkId, String)> = (0..400)
            .map(|i| {
                let mut text = String::from("common everywhere ");
                for _ in 0..6 {
                    text.push_str(words[next(7) as usize]);
                    text.push(' ');
                }
                if i % 50 == 0 {
                    text.push_str("rare");
                }
                (ChunkId::new(), text)
            })
            .collect();
        let index = KeywordIndex::build(texts.iter().map(|(id, t)| (*id, t.as_str())));
        for query in [
            "rare common everywhere",
            "golf rare common",
            "alpha bravo common",
        ] {
            let fast = index.search(query, 5);
            // Every chunk scored: ask for all of them.
            let full = index.search(query, texts.len());
            let want: Vec<(ChunkId, f32)> = full.into_iter().take(5).collect();
            assert_eq!(fast.len(), 5);
            for ((a, sa), (b, sb)) in fast.iter().zip(&want) {
                assert!(
                    a == b || (sa - sb).abs() < 1e-6,
                    "{query}: {fast:?} vs {want:?}"
                );
            }
        }
    }
}
