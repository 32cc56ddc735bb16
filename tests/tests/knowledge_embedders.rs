//! Knowledge bases with different embedders side by side: each is ingested with its own, one
//! search over several embeds the query once per embedder, and a knowledge base from before
//! embedders were recorded keeps the default one until re-indexed.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use support::{open, org, upload};

use botbuilder_core::domain::{EmbedderRecord, NewKnowledgeBase};
use botbuilder_core::embed::{Embedder, EmbedderResolver, EmbedderUnavailable, EmbeddingChoice};
use botbuilder_core::id::OrgId;
use botbuilder_core::knowledge::{KnowledgeService, SearchMode, SearchRequest};
use botbuilder_core::llm::ProviderError;
use botbuilder_core::store::prelude::*;
use botbuilder_providers::local::LocalEmbedder;

/// The local embedder at any size, counting the texts it embeds; `reversed` turns each
/// vector around (another model of the same size).
struct Counting {
    inner: LocalEmbedder,
    texts: Arc<AtomicUsize>,
    reversed: bool,
}

#[async_trait]
impl Embedder for Counting {
    fn id(&self) -> &str {
        if self.reversed {
            "reversed"
        } else {
            self.inner.id()
        }
    }
    fn model(&self) -> &str {
        self.inner.model()
    }
    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }
    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        self.texts.fetch_add(texts.len(), Ordering::SeqCst);
        let mut vectors = self.inner.embed_texts(texts).await?;
        if self.reversed {
            vectors.iter_mut().for_each(|v| v.reverse());
        }
        Ok(vectors)
    }
}

struct Sizes {
    texts: Arc<AtomicUsize>,
}

#[async_trait]
impl EmbedderResolver for Sizes {
    async fn embedder(
        &self,
        _org: OrgId,
        choice: &EmbeddingChoice,
    ) -> Result<Arc<dyn Embedder>, EmbedderUnavailable> {
        let dimensions = choice
            .dimensions
            .ok_or_else(|| EmbedderUnavailable::unsupported("dimensions", "give a size"))?;
        Ok(Arc::new(Counting {
            inner: LocalEmbedder::new(dimensions as usize),
            texts: self.texts.clone(),
            reversed: choice.provider == "reversed",
        }))
    }
}

async fn drain(service: &KnowledgeService) {
    while service.work_once().await.unwrap() {}
}

fn vector_search(query: &str) -> SearchRequest {
    SearchRequest {
        query: query.into(),
        mode: SearchMode::Vector,
        top_k: 10,
        min_score: 0.0,
    }
}

#[tokio::test]
async fn knowledge_bases_with_different_embedders_are_searched_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("kb.db")).await;
    let org = org(&store).await;
    let texts = Arc::new(AtomicUsize::new(0));
    let knowledge = KnowledgeService::new(
        store.clone(),
        store.clone(),
        Arc::new(LocalEmbedder::default()),
    )
    .with_embedders(Arc::new(Sizes {
        texts: texts.clone(),
    }));
    let default = knowledge
        .create_knowledge_base(org, "Shop".into(), String::new())
        .await
        .unwrap();
    let small = EmbeddingChoice {
        provider: "local".into(),
        model: None,
        dimensions: Some(64),
    };
    let chosen = knowledge
        .create_knowledge_base_with_embedder(org, "Warranty".into(), String::new(), &small)
        .await
        .unwrap();
    assert_eq!(
        (default.embedding_dimensions, chosen.embedding_dimensions),
        (384, 64)
    );
    let guide = "# Refunds\n\nRefunds are paid within five days of the return.";
    let warranty = "# Warranty\n\nEvery kettle has a two year warranty against defects.";
    knowledge
        .add_document(org, default.id, upload("Refunds", "text/markdown", guide))
        .await
        .unwrap();
    knowledge
        .add_document(
            org,
            chosen.id,
            upload("Warranty", "text/markdown", warranty),
        )
        .await
        .unwrap();
    drain(&knowledge).await;
    let ingested = texts.load(Ordering::SeqCst);
    assert!(ingested >= 1, "the chosen embedder ingested nothing");
    for (kb, needle) in [
        (default.id, "Refunds are paid"),
        (chosen.id, "two year warranty"),
    ] {
        let hits = knowledge
            .search(org, &[kb], &vector_search("refunds warranty"))
            .await
            .unwrap();
        assert!(hits[0].chunk.text.contains(needle), "{hits:#?}");
    }

    // One search over both: each side found with its own vectors.
    texts.store(0, Ordering::SeqCst);
    let hits = knowledge
        .search(
            org,
            &[default.id, chosen.id],
            &vector_search("kettle warranty refunds"),
        )
        .await
        .unwrap();
    let found: Vec<_> = hits.iter().map(|h| h.chunk.kb_id).collect();
    assert!(
        found.contains(&default.id) && found.contains(&chosen.id),
        "{hits:#?}"
    );
    // Both resolve through the resolver here (it asks first, as an organization's own
    // credentials come first): two embedders, the query embedded once by each.
    assert_eq!(texts.load(Ordering::SeqCst), 2);
    let again = knowledge
        .search(org, &[chosen.id, chosen.id], &vector_search("kettle"))
        .await
        .unwrap();
    assert!(!again.is_empty());
    assert_eq!(
        texts.load(Ordering::SeqCst),
        3,
        "one embedder, one embedding"
    );

    // A knowledge base from before embedders were recorded uses the default one; re-indexing
    // records it.
    let legacy = store
        .create_knowledge_base(
            org,
            NewKnowledgeBase {
                name: "Old".into(),
                description: String::new(),
                embedding: EmbedderRecord {
                    provider: String::new(),
                    model: "local-hashed-ngrams-v1".into(),
                    dimensions: 384,
                },
            },
        )
        .await
        .unwrap();
    knowledge
        .add_document(org, legacy.id, upload("Refunds", "text/markdown", guide))
        .await
        .unwrap();
    drain(&knowledge).await;
    let hits = knowledge
        .search(org, &[legacy.id], &vector_search("refunds"))
        .await
        .unwrap();
    assert!(hits[0].chunk.text.contains("Refunds are paid"));
    let (reindexed, queued) = knowledge.reindex(org, legacy.id).await.unwrap();
    assert_eq!(queued, 1);
    assert_eq!(
        (
            reindexed.embedding_provider.as_str(),
            reindexed.embedding_dimensions
        ),
        ("local", 384)
    );
}

#[tokio::test]
async fn moving_to_another_model_of_the_same_size_leaves_the_old_vectors_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("kb.db")).await;
    let org = org(&store).await;
    let knowledge = KnowledgeService::new(
        store.clone(),
        store.clone(),
        Arc::new(LocalEmbedder::default()),
    )
    .with_embedders(Arc::new(Sizes {
        texts: Arc::default(),
    }));
    let choice = |provider: &str| EmbeddingChoice {
        provider: provider.into(),
        model: None,
        dimensions: Some(64),
    };
    let kb = knowledge
        .create_knowledge_base_with_embedder(org, "KB".into(), String::new(), &choice("local"))
        .await
        .unwrap();
    let guide = "# Refunds\n\nRefunds are paid within five days of the return.";
    knowledge
        .add_document(org, kb.id, upload("Refunds", "text/markdown", guide))
        .await
        .unwrap();
    drain(&knowledge).await;
    let search = vector_search("refunds paid");
    assert!(
        !knowledge
            .search(org, &[kb.id], &search)
            .await
            .unwrap()
            .is_empty()
    );

    let (moved, queued) = knowledge
        .change_embedder(org, kb.id, &choice("reversed"))
        .await
        .unwrap();
    assert_eq!((moved.embedding_provider.as_str(), queued), ("reversed", 1));
    // Same size, another model: until the document is embedded again, its old vectors are
    // not compared with the new model's query.
    assert!(
        knowledge
            .search(org, &[kb.id], &search)
            .await
            .unwrap()
            .is_empty()
    );
    drain(&knowledge).await;
    let hits = knowledge.search(org, &[kb.id], &search).await.unwrap();
    assert!(hits[0].chunk.text.contains("Refunds are paid"), "{hits:#?}");
}
