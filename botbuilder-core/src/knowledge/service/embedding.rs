//! Which embedder each knowledge base uses: chosen at creation, changed by re-indexing, and
//! resolved per organization (see the parent module's docs).

use std::sync::Arc;

use super::*;
use crate::domain::EmbedderRecord;
use crate::embed::EmbeddingChoice;
use crate::llm::Unavailable;
use crate::validate::{FieldIssue, Invalid};

/// Longest embedding provider id, in characters.
const MAX_PROVIDER_CHARS: usize = 64;
/// Longest embedding model name, in characters.
const MAX_MODEL_CHARS: usize = 200;

/// What a knowledge base records about `embedder`.
pub(super) fn record_of(embedder: &dyn Embedder) -> EmbedderRecord {
    EmbedderRecord {
        provider: embedder.id().to_owned(),
        model: embedder.model().to_owned(),
        dimensions: u32::try_from(embedder.dimensions()).unwrap_or(u32::MAX),
    }
}

/// Whether `embedder` is what `choice` asks for (an unset model or size matches any).
fn answers(embedder: &dyn Embedder, choice: &EmbeddingChoice) -> bool {
    choice.provider == embedder.id()
        && choice
            .model
            .as_deref()
            .is_none_or(|m| m == embedder.model())
        && choice
            .dimensions
            .is_none_or(|d| d as usize == embedder.dimensions())
}

/// `unavailable` as the problem of the `embedding` field of a request, or as itself when the
/// caller cannot fix it (credentials that cannot be read).
fn as_invalid(unavailable: EmbedderUnavailable) -> KnowledgeError {
    let (field, message) = match &unavailable {
        EmbedderUnavailable::Unsupported { field, message } => (*field, message.clone()),
        EmbedderUnavailable::Provider(Unavailable::MissingCredentials) => (
            "provider",
            "neither this organization nor the server has credentials for this provider \
             (PUT …/provider-credentials/{provider})"
                .to_owned(),
        ),
        EmbedderUnavailable::Provider(Unavailable::UnknownProvider) => (
            "provider",
            "this deployment offers no such embedding provider".to_owned(),
        ),
        EmbedderUnavailable::Provider(_) => return unavailable.into(),
    };
    Invalid(vec![FieldIssue {
        field: format!("embedding.{field}"),
        message,
    }])
    .into()
}

impl KnowledgeService {
    /// Resolves the embedders knowledge bases choose, other than the service's default one,
    /// with `resolver`. Without one, only the default embedder can be chosen.
    #[must_use]
    pub fn with_embedders(mut self, resolver: Arc<dyn EmbedderResolver>) -> Self {
        self.embedders = Some(resolver);
        self
    }

    /// The embedder `org` gets for `choice`: the resolver's (which uses the organization's
    /// own credentials first), else the default one when it answers the choice (a model the
    /// resolver does not offer, such as a sentence model on disk).
    async fn resolve(
        &self,
        org: OrgId,
        choice: &EmbeddingChoice,
    ) -> Result<Arc<dyn Embedder>, EmbedderUnavailable> {
        let default_answers = answers(self.embedder.as_ref(), choice);
        match &self.embedders {
            Some(resolver) => match resolver.embedder(org, choice).await {
                Err(_) if default_answers => Ok(self.embedder.clone()),
                found => found,
            },
            None if default_answers => Ok(self.embedder.clone()),
            None => Err(EmbedderUnavailable::unsupported(
                "provider",
                format!(
                    "this deployment indexes knowledge only with `{}` (model `{}`)",
                    self.embedder.id(),
                    self.embedder.model()
                ),
            )),
        }
    }

    /// The embedder `choice` names for a request of `org` (its failure as the problem of
    /// the request's `embedding` field).
    async fn chosen(
        &self,
        org: OrgId,
        choice: &EmbeddingChoice,
    ) -> Result<Arc<dyn Embedder>, KnowledgeError> {
        let long = |text: &str, most: usize| text.chars().count() > most;
        if long(&choice.provider, MAX_PROVIDER_CHARS) {
            return Err(as_invalid(EmbedderUnavailable::unsupported(
                "provider",
                format!("at most {MAX_PROVIDER_CHARS} characters"),
            )));
        }
        if choice
            .model
            .as_deref()
            .is_some_and(|m| m.trim().is_empty() || long(m, MAX_MODEL_CHARS))
        {
            return Err(as_invalid(EmbedderUnavailable::unsupported(
                "model",
                format!("1 to {MAX_MODEL_CHARS} characters"),
            )));
        }
        self.resolve(org, choice).await.map_err(as_invalid)
    }

    /// The embedder the vectors of `kb` come from (the default one for knowledge bases that
    /// recorded no provider).
    pub(super) async fn embedder_of(
        &self,
        kb: &KnowledgeBase,
    ) -> Result<Arc<dyn Embedder>, KnowledgeError> {
        if kb.embedding_provider.is_empty() {
            return Ok(self.embedder.clone());
        }
        let recorded = EmbeddingChoice {
            provider: kb.embedding_provider.clone(),
            model: Some(kb.embedding_model.clone()),
            dimensions: Some(kb.embedding_dimensions),
        };
        Ok(self.resolve(kb.org_id, &recorded).await?)
    }

    /// The weight of the vector ranking in hybrid search with `embedder`.
    fn vector_weight(&self, embedder: &dyn Embedder) -> f32 {
        if std::ptr::addr_eq(embedder, self.embedder.as_ref()) {
            self.hybrid_vector_weight
        } else if embedder.id() == "local" {
            DEFAULT_HYBRID_VECTOR_WEIGHT
        } else {
            SEMANTIC_HYBRID_VECTOR_WEIGHT
        }
    }

    /// `query` embedded for each of `indexes` (once per distinct embedder), and the weight
    /// of the vector ranking in hybrid search (the largest of their embedders').
    pub(super) async fn embed_query(
        &self,
        indexes: &[Arc<KbIndex>],
        query: &str,
    ) -> Result<(Vec<Option<Vec<f32>>>, f32), KnowledgeError> {
        // Knowledge bases recording the same embedder share one resolution and one embedding.
        let mut embedded: HashMap<EmbedderRecord, (Vec<f32>, f32)> = HashMap::new();
        let mut vectors = Vec::with_capacity(indexes.len());
        let mut weight: Option<f32> = None;
        for index in indexes {
            let recorded = EmbedderRecord {
                provider: index.kb.embedding_provider.clone(),
                model: index.kb.embedding_model.clone(),
                dimensions: index.kb.embedding_dimensions,
            };
            let (vector, this) = match embedded.get(&recorded) {
                Some(found) => found.clone(),
                None => {
                    let embedder = self.embedder_of(&index.kb).await?;
                    let found = (
                        embedder.embed_text(query).await?,
                        self.vector_weight(embedder.as_ref()),
                    );
                    embedded.insert(recorded, found.clone());
                    found
                }
            };
            weight = Some(weight.map_or(this, |w| w.max(this)));
            vectors.push(Some(vector));
        }
        Ok((vectors, weight.unwrap_or(self.hybrid_vector_weight)))
    }

    /// Creates a knowledge base indexed with the embedder `choice` names for `org` (checked
    /// now: a provider without embeddings, without credentials, or a model of unknown size
    /// is an [`Invalid`] `embedding.*` field).
    pub async fn create_knowledge_base_with_embedder(
        &self,
        org: OrgId,
        name: String,
        description: String,
        choice: &EmbeddingChoice,
    ) -> Result<KnowledgeBase, KnowledgeError> {
        let embedder = self.chosen(org, choice).await?;
        let new = NewKnowledgeBase {
            name,
            description,
            embedding: record_of(embedder.as_ref()),
        };
        Ok(self.store.create_knowledge_base(org, new).await?)
    }

    /// Moves `kb` to the embedder `choice` names (checked as at creation) and re-indexes
    /// it (see [`KnowledgeService::reindex`]). Choosing the embedder it already has
    /// re-indexes too.
    pub async fn change_embedder(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        choice: &EmbeddingChoice,
    ) -> Result<(KnowledgeBase, usize), KnowledgeError> {
        self.store.get_knowledge_base(org, kb).await?;
        let embedder = self.chosen(org, choice).await?;
        self.reindex_with(org, kb, embedder.as_ref()).await
    }

    /// Re-indexes `kb` with its own embedder (after its model changed behind the same name,
    /// or to give a knowledge base from before embedders were recorded the default one):
    /// records the embedder and queues every document for ingestion again (from the stored
    /// bytes). Until a document is done, vector search skips its old vectors; keyword search
    /// keeps finding its chunks. Returns the knowledge base and how many documents were
    /// queued.
    pub async fn reindex(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
    ) -> Result<(KnowledgeBase, usize), KnowledgeError> {
        let current = self.store.get_knowledge_base(org, kb).await?;
        let embedder = self.embedder_of(&current).await?;
        self.reindex_with(org, kb, embedder.as_ref()).await
    }

    async fn reindex_with(
        &self,
        org: OrgId,
        kb: KnowledgeBaseId,
        embedder: &dyn Embedder,
    ) -> Result<(KnowledgeBase, usize), KnowledgeError> {
        let patch = KnowledgeBasePatch {
            embedding: Some(record_of(embedder)),
            ..KnowledgeBasePatch::default()
        };
        let updated = self.store.update_knowledge_base(org, kb, patch).await?;
        self.forget_index(kb);
        let mut queued = 0;
        let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
        loop {
            let documents = self.store.list_documents(org, kb, page).await?;
            for document in &documents.items {
                self.store
                    .set_document_status(org, document.id, DocumentStatus::Pending, 0.0, None)
                    .await?;
                self.enqueue_ingestion(org, kb, document.id).await?;
                queued += 1;
            }
            match documents.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => break,
            }
        }
        Ok((updated, queued))
    }
}
