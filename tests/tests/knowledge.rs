//! Knowledge bases through the real ingestion path: SQLite file store, durable queue, the
//! offline local embedder, keyword / vector / hybrid search, and a restart mid-ingestion.

mod support;

use std::sync::Arc;

use support::{open, org, upload};

use botbuilder_core::domain::{DocumentStatus, NewOrganization, NewUser};
use botbuilder_core::embed::EmbeddingChoice;
use botbuilder_core::knowledge::{
    ExtractError, KnowledgeError, KnowledgeService, SearchMode, SearchRequest, Upload,
};
use botbuilder_core::queue::JobQueue;
use botbuilder_core::store::prelude::*;
use botbuilder_providers::local::LocalEmbedder;
use botbuilder_store::SqliteStore;

const GUIDE: &str = "# Shop guide\n\n## Refunds\n\nRefunds are paid within five days of the \
    return reaching our warehouse. Keep your receipt.\n\n## Shipping\n\nShipping is free for \
    orders above 50 euros and takes two working days.\n\n## Gift cards\n\nGift cards never \
    expire and work online and in stores.\n";

fn service(store: &Arc<SqliteStore>) -> KnowledgeService {
    KnowledgeService::new(
        store.clone(),
        store.clone(),
        Arc::new(LocalEmbedder::default()),
    )
}

async fn drain(service: &KnowledgeService) -> usize {
    let mut jobs = 0;
    while service.work_once().await.unwrap() {
        jobs += 1;
    }
    jobs
}

#[tokio::test]
async fn documents_become_searchable_by_keyword_vector_and_hybrid() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("kb.db")).await;
    let org = org(&store).await;
    let knowledge = service(&store);
    let kb = knowledge
        .create_knowledge_base(org, "Help".into(), String::new())
        .await
        .unwrap();
    assert_eq!(kb.embedding_dimensions, 384);
    let guide = knowledge
        .add_document(org, kb.id, upload("Shop guide", "text/markdown", GUIDE))
        .await
        .unwrap();
    assert_eq!(guide.status, DocumentStatus::Pending);
    assert_eq!(drain(&knowledge).await, 1);
    let ready = store.get_document(org, guide.id).await.unwrap();
    assert_eq!(ready.status, DocumentStatus::Ready);
    assert!(ready.chunk_count >= 1);

    for mode in [SearchMode::Keyword, SearchMode::Vector, SearchMode::Hybrid] {
        let hits = knowledge
            .search(
                org,
                &[kb.id],
                &SearchRequest {
                    query: "how long do refunds take?".into(),
                    mode,
                    top_k: 3,
                    min_score: 0.0,
                },
            )
            .await
            .unwrap();
        assert!(!hits.is_empty(), "{mode:?}");
        assert!(
            hits[0].chunk.text.contains("Refunds are paid"),
            "{mode:?}: {hits:#?}"
        );
        assert_eq!(hits[0].document_title, "Shop guide");
        assert_eq!(hits[0].chunk.document_id, guide.id);
        assert!(hits.len() <= 3);
    }

    // Unreadable input fails clearly; the same content twice is refused.
    assert!(matches!(
        knowledge
            .add_document(
                org,
                kb.id,
                upload("Binary", "application/x-msdownload", "MZ")
            )
            .await,
        Err(KnowledgeError::Unreadable(_))
    ));
    assert!(matches!(
        knowledge
            .add_document(org, kb.id, upload("Shop guide", "text/markdown", GUIDE))
            .await,
        Err(KnowledgeError::Store(StoreError::Conflict(_)))
    ));
    // Text that is not UTF-8 is refused before it is stored; a damaged PDF is stored and
    // fails in ingestion with the reason.
    let latin1 = Upload {
        bytes: vec![0x63, 0x61, 0x66, 0xe9],
        ..upload("Latin-1", "text/plain", "")
    };
    assert!(matches!(
        knowledge.add_document(org, kb.id, latin1).await,
        Err(KnowledgeError::Unreadable(ExtractError::NotUtf8))
    ));
    let damaged = upload("Damaged", "application/pdf", "%PDF-1.7\n1 0 obj garbage");
    let bad = knowledge.add_document(org, kb.id, damaged).await.unwrap();
    drain(&knowledge).await;
    let failed = store.get_document(org, bad.id).await.unwrap();
    assert_eq!(failed.status, DocumentStatus::Failed);
    let reason = failed.error.unwrap();
    assert!(
        reason.starts_with("the document cannot be read"),
        "{reason}"
    );

    // Deleting the document takes it out of every search mode.
    knowledge.delete_document(org, guide.id).await.unwrap();
    for mode in [SearchMode::Keyword, SearchMode::Vector, SearchMode::Hybrid] {
        let request = SearchRequest {
            query: "refunds".into(),
            mode,
            top_k: 5,
            min_score: 0.0,
        };
        assert!(
            knowledge
                .search(org, &[kb.id], &request)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_restart_during_ingestion_resumes_the_pending_documents() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("restart.db");
    let (org, kb, docs) = {
        let store = open(&db).await;
        let org = org(&store).await;
        let knowledge = service(&store);
        let kb = knowledge
            .create_knowledge_base(org, "Help".into(), String::new())
            .await
            .unwrap();
        let mut docs = Vec::new();
        for i in 0..3 {
            let text = format!("Document {i}: {GUIDE}");
            let doc = knowledge
                .add_document(
                    org,
                    kb.id,
                    upload(&format!("Doc {i}"), "text/markdown", &text),
                )
                .await
                .unwrap();
            docs.push(doc.id);
        }
        // One job is taken and its worker dies mid-way (the lease is never answered).
        let leased = store
            .reserve(
                &[botbuilder_core::knowledge::INGEST_JOB],
                std::time::Duration::ZERO,
            )
            .await
            .unwrap();
        assert!(leased.is_some());
        store.close().await;
        (org, kb.id, docs)
    };

    // A new process on the same database finishes everything.
    let store = open(&db).await;
    let knowledge = service(&store);
    assert_eq!(drain(&knowledge).await, 3);
    for doc in docs {
        let doc = store.get_document(org, doc).await.unwrap();
        assert_eq!(doc.status, DocumentStatus::Ready, "{doc:?}");
        assert!(doc.chunk_count > 0);
    }
    let hits = knowledge
        .search(
            org,
            &[kb],
            &SearchRequest {
                query: "gift cards".into(),
                mode: SearchMode::Hybrid,
                top_k: 5,
                min_score: 0.0,
            },
        )
        .await
        .unwrap();
    assert!(hits[0].chunk.text.contains("Gift cards never expire"));
}

/// An embedder that fails while `broken` is set, and can pose as another model.
struct Switchable {
    inner: LocalEmbedder,
    model: &'static str,
    broken: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl botbuilder_core::embed::Embedder for Switchable {
    fn id(&self) -> &str {
        "switchable"
    }
    fn model(&self) -> &str {
        self.model
    }
    fn dimensions(&self) -> usize {
        botbuilder_core::embed::Embedder::dimensions(&self.inner)
    }
    async fn embed_texts(
        &self,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, botbuilder_core::llm::ProviderError> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(botbuilder_core::llm::ProviderError::Transient(
                "the embedding server is down".into(),
            ));
        }
        self.inner.embed_texts(texts).await
    }
}

#[tokio::test]
async fn failing_ingestion_is_dead_lettered_retried_and_reindexed() {
    use botbuilder_core::testing::ManualClock;
    use std::sync::atomic::Ordering;

    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let url = format!("sqlite://{}", dir.path().join("dead.db").display());
    let store = Arc::new(
        SqliteStore::connect(&url)
            .await
            .unwrap()
            .with_clock(clock.clone()),
    );
    let org = org(&store).await;
    let embedder = Arc::new(Switchable {
        inner: LocalEmbedder::default(),
        model: "local-hashed-ngrams-v1",
        broken: true.into(),
    });
    let knowledge = KnowledgeService::new(store.clone(), store.clone(), embedder.clone());
    let kb = knowledge
        .create_knowledge_base(org, "Help".into(), String::new())
        .await
        .unwrap();
    let doc = knowledge
        .add_document(org, kb.id, upload("Guide", "text/markdown", GUIDE))
        .await
        .unwrap();

    // Every attempt fails; after the last, the job is a dead letter and the document failed.
    for _ in 0..botbuilder_core::knowledge::service::INGEST_ATTEMPTS {
        assert!(knowledge.work_once().await.unwrap());
        clock.advance(chrono::TimeDelta::minutes(5));
    }
    assert!(!knowledge.work_once().await.unwrap(), "no more attempts");
    let failed = store.get_document(org, doc.id).await.unwrap();
    assert_eq!(failed.status, DocumentStatus::Failed);
    assert!(
        failed
            .error
            .unwrap()
            .contains("the embedding server is down")
    );
    let dead = knowledge.dead_ingestions(org, kb.id).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].document_id, doc.id);
    assert_eq!(dead[0].attempts, 3);
    assert!(dead[0].last_error.as_deref().unwrap().contains("down"));
    // Another organization sees no such knowledge base.
    let (_, other) = store
        .create_user_with_org(
            NewUser {
                email: "other@example.com".into(),
                name: "Other".into(),
                password_hash: "-".into(),
            },
            NewOrganization {
                name: "Other".into(),
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        knowledge.dead_ingestions(other.id, kb.id).await,
        Err(KnowledgeError::Store(StoreError::NotFound))
    ));

    // Fixed and retried: ready, and no longer a dead letter.
    embedder.broken.store(false, Ordering::SeqCst);
    let pending = knowledge.retry_document(org, doc.id).await.unwrap();
    assert_eq!(pending.status, DocumentStatus::Pending);
    assert_eq!(drain(&knowledge).await, 1);
    assert_eq!(
        store.get_document(org, doc.id).await.unwrap().status,
        DocumentStatus::Ready
    );
    assert!(
        knowledge
            .dead_ingestions(org, kb.id)
            .await
            .unwrap()
            .is_empty()
    );

    // A new embedding model: moving the knowledge base to it records it and ingests every
    // document again (re-indexing alone cannot: its old model is no longer offered). Until
    // then vector search skips the old vectors; keyword search keeps working.
    let upgraded = KnowledgeService::new(
        store.clone(),
        store.clone(),
        Arc::new(Switchable {
            inner: LocalEmbedder::new(128),
            model: "local-v2-128",
            broken: false.into(),
        }),
    );
    assert!(matches!(
        upgraded.reindex(org, kb.id).await,
        Err(KnowledgeError::EmbedderUnavailable(_))
    ));
    let new_model = EmbeddingChoice {
        provider: "switchable".into(),
        model: Some("local-v2-128".into()),
        dimensions: None,
    };
    let (kb_after, queued) = upgraded
        .change_embedder(org, kb.id, &new_model)
        .await
        .unwrap();
    assert_eq!(queued, 1);
    assert_eq!(
        (
            kb_after.embedding_model.as_str(),
            kb_after.embedding_dimensions
        ),
        ("local-v2-128", 128)
    );
    let search = |mode| SearchRequest {
        query: "how long do refunds take".into(),
        mode,
        top_k: 3,
        min_score: 0.0,
    };
    let vector = upgraded
        .search(org, &[kb.id], &search(SearchMode::Vector))
        .await
        .unwrap();
    assert!(vector.is_empty(), "old 384-d vectors are not searched");
    let keyword = upgraded
        .search(org, &[kb.id], &search(SearchMode::Keyword))
        .await
        .unwrap();
    assert!(keyword[0].chunk.text.contains("Refunds are paid"));
    assert_eq!(drain(&upgraded).await, 1);
    let vector = upgraded
        .search(org, &[kb.id], &search(SearchMode::Vector))
        .await
        .unwrap();
    assert!(
        vector[0].chunk.text.contains("Refunds are paid"),
        "{vector:?}"
    );
}
