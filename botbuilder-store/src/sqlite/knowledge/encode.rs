//! SQLite's encodings for knowledge: vectors as little-endian `f32` BLOBs, FTS5 queries, and
//! id lists as JSON for `json_each`.

use botbuilder_core::store::StoreResult;
use uuid::Uuid;

use crate::error::corrupt;
use crate::rows::knowledge::query_words;

/// A vector as stored: little-endian `f32`s.
pub(super) fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(super) fn vector_from(bytes: &[u8]) -> StoreResult<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(corrupt("embedding", "length is not a multiple of 4"));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// An FTS5 query matching any of the topic words of `text` (stopwords left out, unless that
/// leaves nothing), each quoted, so no input is ever read as query syntax. `None` when the
/// text has no words.
pub(super) fn fts_query(text: &str) -> Option<String> {
    let quoted: Vec<String> = query_words(text)
        .into_iter()
        .map(|w| format!("\"{w}\""))
        .collect();
    (!quoted.is_empty()).then(|| quoted.join(" OR "))
}

pub(super) fn json_ids(ids: impl Iterator<Item = Uuid>) -> String {
    let hex: Vec<String> = ids.map(|id| id.simple().to_string()).collect();
    serde_json::to_string(&hex).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_text_becomes_a_safe_fts_query() {
        assert_eq!(
            fts_query("refund \"policy\" NEAR* -x").as_deref(),
            Some("\"refund\" OR \"policy\" OR \"NEAR\" OR \"x\"")
        );
        assert_eq!(
            fts_query("what is the refund policy?").as_deref(),
            Some("\"refund\" OR \"policy\""),
            "stopwords left out"
        );
        assert_eq!(
            fts_query("what is it").as_deref(),
            Some("\"what\" OR \"is\" OR \"it\""),
            "unless nothing else is left"
        );
        assert_eq!(fts_query("?! ..."), None);
        assert_eq!(
            vector_from(&vector_bytes(&[1.5, -2.0])).unwrap(),
            vec![1.5, -2.0]
        );
    }
}
