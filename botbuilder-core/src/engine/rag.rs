//! Retrieval for AI answers: the bot's knowledge bases are searched with the user's message,
//! the relevant chunks become numbered [`Source`]s of the request (each provider places them
//! where its API wants them), and the answer's citations are
//! the sources it names (every one of them a stored chunk).
//!
//! A hit is relevant when it shares a topic word with the question or its embedding is close
//! ([`RAG_MIN_SIMILARITY`]); the offline hashed embedder is too coarse to decide alone, and a
//! chunk sharing no word and no meaning with the question is never offered as a source.

use serde_json::{Value, json};

use crate::knowledge::{KnowledgeError, KnowledgeService, SearchHit, SearchMode, SearchRequest};
use crate::llm::{Source, render_sources};
use crate::prompt;

use super::EngineError;
use crate::domain::Bot;

/// Sources retrieved per answer.
pub const RAG_TOP_K: usize = 4;
/// Cosine similarity (query to chunk) from which a chunk counts as relevant on its own.
pub const RAG_MIN_SIMILARITY: f32 = 0.35;
/// Share of the context window the sources may take.
pub const RAG_CONTEXT_SHARE: u32 = 2;
/// Characters of a chunk shown as a citation's snippet.
pub const SNIPPET_CHARS: usize = 240;

/// How the model is told to use the sources.
pub const SOURCES_INSTRUCTIONS: &str = "Answer only from the numbered sources, and cite the \
    ones you use like [1]. If they do not contain the answer, say that you do not know.";
/// What the model is told when retrieval found nothing.
pub const NOTHING_FOUND_INSTRUCTIONS: &str = "No source matched the question: say that you do not know, \
    without inventing an answer or a source.";

/// The relevant chunks for `question` from the bot's knowledge bases, best first.
pub(crate) async fn retrieve(
    knowledge: &KnowledgeService,
    bot: &Bot,
    question: &str,
) -> Result<Vec<SearchHit>, EngineError> {
    let request = SearchRequest {
        query: question.to_owned(),
        mode: SearchMode::Hybrid,
        top_k: RAG_TOP_K,
        min_score: 0.0,
    };
    let hits = match knowledge
        .search(bot.org_id, &bot.ai_config.knowledge_base_ids, &request)
        .await
    {
        Ok(hits) => hits,
        // Without vectors (the embedding API down or refusing, vectors of another model, an
        // embedder whose credentials are gone), the words still find sources: answer from
        // those rather than not at all.
        Err(
            e @ (KnowledgeError::Embedder(_)
            | KnowledgeError::Vectors(_)
            | KnowledgeError::EmbedderUnavailable(_)),
        ) => {
            tracing::warn!(bot = %bot.id, "vector search failed, using keywords only: {}",
                crate::error_chain(&e));
            let keywords = SearchRequest {
                mode: SearchMode::Keyword,
                ..request
            };
            knowledge
                .search(bot.org_id, &bot.ai_config.knowledge_base_ids, &keywords)
                .await
                .map_err(|e| EngineError::Knowledge(Box::new(e)))?
        }
        Err(e) => return Err(EngineError::Knowledge(Box::new(e))),
    };
    let asked = content_words(question);
    Ok(hits
        .into_iter()
        .filter(|h| {
            h.vector_score.unwrap_or(0.0) >= RAG_MIN_SIMILARITY
                || content_words(&h.chunk.text)
                    .iter()
                    .any(|w| asked.contains(w))
        })
        .collect())
}

/// Topic words of `text`: lower-cased, longer than two letters, not stopwords, a plural `s`
/// dropped (so "refunds" meets "refund").
fn content_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() > 2 && !crate::knowledge::STOPWORDS.contains(&w.as_str()))
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.chars().count() > 2 && !stem.ends_with('s') => stem.to_owned(),
            _ => w,
        })
        .collect()
}

fn label(hit: &SearchHit) -> String {
    let mut parts = vec![hit.document_title.as_str()];
    parts.extend(hit.chunk.heading_path.iter().map(String::as_str));
    parts.dedup();
    parts.join(" › ")
}

/// The sources that fit in the budget (a share of the context window) as numbered
/// [`Source`]s, with the instructions to add to the system prompt, the tokens the rendered
/// sources take, and the hits they came from.
pub(crate) fn sources_for(hits: Vec<SearchHit>, model: &str, context_window: u32) -> Retrieved {
    if hits.is_empty() {
        return Retrieved {
            instructions: NOTHING_FOUND_INSTRUCTIONS,
            sources: Vec::new(),
            tokens: 0,
            hits,
        };
    }
    let budget = context_window / RAG_CONTEXT_SHARE;
    let mut tokens = 0u32;
    let mut sources = Vec::new();
    let mut kept = Vec::new();
    for hit in hits {
        let source = Source {
            n: kept.len() + 1,
            label: label(&hit),
            text: hit.chunk.text.trim().to_owned(),
        };
        let cost = prompt::count_tokens(model, &render_sources(std::slice::from_ref(&source)));
        if tokens + cost > budget && !kept.is_empty() {
            break;
        }
        tokens += cost;
        sources.push(source);
        kept.push(hit);
    }
    Retrieved {
        instructions: SOURCES_INSTRUCTIONS,
        sources,
        tokens,
        hits: kept,
    }
}

/// What retrieval gives an answer.
#[derive(Debug)]
pub(crate) struct Retrieved {
    /// Added to the system prompt.
    pub(crate) instructions: &'static str,
    /// Offered to the model.
    pub(crate) sources: Vec<Source>,
    /// Tokens of the rendered sources.
    pub(crate) tokens: u32,
    /// The hits behind `sources`, same order.
    pub(crate) hits: Vec<SearchHit>,
}

/// The citations of `answer`: the sources it names as `[n]`, or every source when it names
/// none.
pub(crate) fn citations(answer: &str, sources: &[SearchHit]) -> Value {
    let named: Vec<usize> = (1..=sources.len())
        .filter(|n| answer.contains(&format!("[{n}]")))
        .collect();
    let cited: Vec<usize> = if named.is_empty() {
        (1..=sources.len()).collect()
    } else {
        named
    };
    Value::Array(
        cited
            .into_iter()
            .map(|n| {
                let hit = &sources[n - 1];
                let snippet: String = hit.chunk.text.trim().chars().take(SNIPPET_CHARS).collect();
                json!({
                    "n": n,
                    "document_id": hit.chunk.document_id,
                    "chunk_id": hit.chunk.id,
                    "knowledge_base_id": hit.chunk.kb_id,
                    "title": hit.document_title,
                    "url": hit.document_url,
                    "heading_path": hit.chunk.heading_path,
                    "snippet": snippet,
                })
            })
            .collect(),
    )
}
