//! Knowledge bases: an organization's documents, cut into chunks that bots search and cite.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{ChunkId, DocumentId, KnowledgeBaseId, OrgId};

/// A collection of documents searched together, embedded with one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeBase {
    /// The knowledge base's id.
    pub id: KnowledgeBaseId,
    /// The organization that owns it.
    pub org_id: OrgId,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The provider of the embedder its vectors come from (`local`, `openai`, ...); empty
    /// for knowledge bases created before it was recorded (they use the deployment's
    /// default embedder).
    pub embedding_provider: String,
    /// The embedding model its vectors come from.
    pub embedding_model: String,
    /// Dimensions of its vectors.
    pub embedding_dimensions: u32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// A knowledge base to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKnowledgeBase {
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The embedder its vectors come from.
    pub embedding: EmbedderRecord,
}

/// The embedder recorded on a knowledge base.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmbedderRecord {
    /// Provider id (`local`, `openai`, `openai-compatible`, ...).
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Vector length.
    pub dimensions: u32,
}

/// Changes to a knowledge base; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KnowledgeBasePatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New embedder (set when re-indexing).
    pub embedding: Option<EmbedderRecord>,
}

/// Where a document is in ingestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    /// Waiting for an ingestion job.
    Pending,
    /// Being extracted, chunked and embedded.
    Processing,
    /// Searchable.
    Ready,
    /// Ingestion gave up (see the document's `error`).
    Failed,
}

impl DocumentStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(Self::Pending),
            "processing" => Some(Self::Processing),
            "ready" => Some(Self::Ready),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// How a document arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum DocumentSource {
    /// An uploaded file.
    File {
        /// Its name as uploaded.
        filename: String,
    },
    /// Text sent as JSON.
    Text,
    /// Fetched from a URL.
    Url {
        /// The address.
        url: String,
    },
}

/// A document of a knowledge base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The document's id.
    pub id: DocumentId,
    /// The organization.
    pub org_id: OrgId,
    /// Its knowledge base.
    pub kb_id: KnowledgeBaseId,
    /// Title (given, or the file name / URL).
    pub title: String,
    /// How it arrived.
    pub source: DocumentSource,
    /// Media type of the original (`text/markdown`, `application/pdf`, ...).
    pub content_type: String,
    /// SHA-256 of the original bytes, hex: the same content twice in one knowledge base is
    /// refused.
    pub content_hash: String,
    /// Size of the original in bytes.
    pub size_bytes: u64,
    /// Ingestion status.
    pub status: DocumentStatus,
    /// Share of the ingestion done, `0.0..=1.0`.
    pub progress: f32,
    /// Why ingestion failed, when it did.
    pub error: Option<String>,
    /// Chunks stored for it.
    pub chunk_count: u32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// A document to create (status `pending`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    /// Title.
    pub title: String,
    /// How it arrived.
    pub source: DocumentSource,
    /// Media type of the original.
    pub content_type: String,
    /// SHA-256 of the original bytes, hex.
    pub content_hash: String,
    /// Size of the original in bytes.
    pub size_bytes: u64,
    /// The original bytes, kept so ingestion can run (and re-run) from the store alone.
    pub content: Vec<u8>,
}

/// A passage of a document, the unit of search and citation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// The chunk's id.
    pub id: ChunkId,
    /// The organization.
    pub org_id: OrgId,
    /// Its knowledge base.
    pub kb_id: KnowledgeBaseId,
    /// Its document.
    pub document_id: DocumentId,
    /// Order within the document, from 0.
    pub position: u32,
    /// The text.
    pub text: String,
    /// The headings it sits under, outermost first.
    pub heading_path: Vec<String>,
    /// Its length in tokens.
    pub token_count: u32,
}

/// What a keyword index holds of one chunk: its text, and the title and headings that say
/// what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkText {
    /// The chunk's id.
    pub id: ChunkId,
    /// Its document.
    pub document_id: DocumentId,
    /// The document's title (as it is now).
    pub title: String,
    /// The headings it sits under, outermost first.
    pub heading_path: Vec<String>,
    /// The text.
    pub text: String,
}

/// A chunk to store, with its embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChunk {
    /// Order within the document, from 0.
    pub position: u32,
    /// The text.
    pub text: String,
    /// The headings it sits under, outermost first.
    pub heading_path: Vec<String>,
    /// Its length in tokens.
    pub token_count: u32,
    /// Its vector (the knowledge base's dimensions).
    pub embedding: Vec<f32>,
}

/// A chunk found by a search, with its score (higher is better within one search).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredChunk {
    /// The chunk.
    pub chunk: Chunk,
    /// Relevance.
    pub score: f32,
}
