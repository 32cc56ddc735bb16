//! Chunks on Postgres: the bulk insert of a document's chunks, keyword search over them, and
//! the encodings both need (pgvector vectors, `tsquery` text).

use botbuilder_core::domain::{NewChunk, ScoredChunk};
use botbuilder_core::id::{DocumentId, KnowledgeBaseId, OrgId};
use botbuilder_core::store::StoreResult;
use pgvector::Vector;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::store_err;
use crate::rows::knowledge::{ChunkRow, chunk_columns, query_words};

/// An embedding as bound: pgvector has no vector of zero dimensions, so an empty embedding is
/// stored as NULL (and reads back empty, see [`embedding_from`]).
pub(super) fn embedding_param(embedding: &[f32]) -> Option<Vector> {
    (!embedding.is_empty()).then(|| Vector::from(embedding.to_vec()))
}

/// An embedding as read back (NULL: empty, see [`embedding_param`]).
pub(super) fn embedding_from(stored: Option<Vector>) -> Vec<f32> {
    stored.map(Vec::from).unwrap_or_default()
}

/// Inserts the chunks of document `doc` of knowledge base `kb` in one statement, whatever
/// their number: a parameter per column, each an array, unnested into rows (SQLite binds a
/// parameter per value, in batches under its limit). Ids are UUIDv7, in the given order.
pub(super) async fn insert_chunks(
    conn: &mut PgConnection,
    org: OrgId,
    kb: Uuid,
    doc: DocumentId,
    chunks: &[NewChunk],
) -> StoreResult<()> {
    if chunks.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = chunks.iter().map(|_| Uuid::now_v7()).collect();
    let positions: Vec<i64> = chunks.iter().map(|c| i64::from(c.position)).collect();
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    let heading_paths: Vec<String> = chunks
        .iter()
        .map(|c| serde_json::to_string(&c.heading_path).unwrap_or_else(|_| "[]".to_owned()))
        .collect();
    let token_counts: Vec<i64> = chunks.iter().map(|c| i64::from(c.token_count)).collect();
    let embeddings: Vec<Option<Vector>> = chunks
        .iter()
        .map(|c| embedding_param(&c.embedding))
        .collect();
    sqlx::query(
        "INSERT INTO chunks (id, organization_id, knowledge_base_id, document_id, position, text,
                             heading_path, token_count, embedding)
         SELECT t.id, $1, $2, $3, t.position, t.text, t.heading_path, t.token_count, t.embedding
         FROM UNNEST($4::uuid[], $5::bigint[], $6::text[], $7::text[], $8::bigint[],
                     $9::vector[])
              AS t (id, position, text, heading_path, token_count, embedding)",
    )
    .bind(org.as_uuid())
    .bind(kb)
    .bind(doc.as_uuid())
    .bind(ids)
    .bind(positions)
    .bind(texts)
    .bind(heading_paths)
    .bind(token_counts)
    .bind(embeddings)
    .execute(conn)
    .await
    .map_err(store_err)?;
    Ok(())
}

/// The `tsquery` text matching any of the words of `text` ([`query_words`]), each a quoted
/// term (which `to_tsquery` reads as one term, stemmed like the chunks), so no input is ever
/// read as query syntax. `None` when the text has no words.
pub(super) fn tsquery_text(text: &str) -> Option<String> {
    let terms: Vec<String> = query_words(text)
        .into_iter()
        // The words are letters and digits; escaping anyway keeps the quoting sound.
        .map(|w| format!("'{}'", w.replace('\\', "\\\\").replace('\'', "''")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" | "))
}

/// The chunks of `kbs` (only those that are `org`'s) matching `tsquery` ([`tsquery_text`]),
/// best first, at most `limit`.
///
/// Postgres has no BM25: the score is `ts_rank` with the length normalisation 1 (divided by
/// 1 + the logarithm of the chunk's length in words), higher is better, comparable within one
/// search only, as the port promises. Equal scores come in chunk id order. Like SQLite, the
/// search does not look at the document's status: a document being embedded again keeps its
/// chunks in keyword search.
pub(super) async fn search(
    conn: &mut PgConnection,
    org: OrgId,
    kbs: &[KnowledgeBaseId],
    tsquery: &str,
    limit: u32,
) -> StoreResult<Vec<ScoredChunk>> {
    #[derive(sqlx::FromRow)]
    struct Hit {
        #[sqlx(flatten)]
        chunk: ChunkRow,
        score: f32,
    }
    let kbs: Vec<Uuid> = kbs.iter().map(|kb| kb.as_uuid()).collect();
    let hits = sqlx::query_as::<_, Hit>(concat!(
        "SELECT ",
        chunk_columns!(),
        ", ts_rank(c.search, q.query, 1) AS score
          FROM chunks c, to_tsquery('botbuilder_search', $1) AS q (query)
          WHERE c.search @@ q.query AND c.organization_id = $2
            AND c.knowledge_base_id = ANY($3)
          ORDER BY score DESC, c.id LIMIT $4"
    ))
    .bind(tsquery)
    .bind(org.as_uuid())
    .bind(kbs)
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await
    .map_err(store_err)?;
    hits.into_iter()
        .map(|hit| {
            Ok(ScoredChunk {
                chunk: hit.chunk.try_into()?,
                score: hit.score,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_text_becomes_a_safe_tsquery() {
        assert_eq!(
            tsquery_text("refund \"policy\" NEAR* -x | !y & (z) <-> w:*").as_deref(),
            Some("'refund' | 'policy' | 'NEAR' | 'x' | 'y' | 'z' | 'w'")
        );
        assert_eq!(
            tsquery_text("what is the refund policy?").as_deref(),
            Some("'refund' | 'policy'"),
            "stopwords left out"
        );
        assert_eq!(
            tsquery_text("what is it").as_deref(),
            Some("'what' | 'is' | 'it'"),
            "unless nothing else is left"
        );
        assert_eq!(tsquery_text("?! ..."), None);
        assert_eq!(tsquery_text(""), None);
    }

    #[test]
    fn an_empty_embedding_is_stored_as_null() {
        assert_eq!(embedding_param(&[]), None);
        let stored = embedding_param(&[1.5, -2.0]);
        assert_eq!(embedding_from(stored), vec![1.5, -2.0]);
        assert!(embedding_from(None).is_empty());
    }
}
