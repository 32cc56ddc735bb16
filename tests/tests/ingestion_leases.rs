//! Ingestion jobs and their leases on the durable SQLite queue: a job that takes longer than
//! its lease is worked by one worker only (the lease is extended while work progresses), and
//! a job whose worker dies on every attempt leaves its document `failed` with the reason.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use botbuilder_core::domain::DocumentStatus;
use botbuilder_core::embed::Embedder;
use botbuilder_core::knowledge::KnowledgeService;
use botbuilder_core::knowledge::service::{INGEST_ATTEMPTS, INGEST_JOB};
use botbuilder_core::llm::ProviderError;
use botbuilder_core::queue::JobQueue;
use botbuilder_core::store::prelude::*;
use botbuilder_providers::local::LocalEmbedder;

use support::{open, org, upload};

/// The local embedder, slowed down, counting the batches it embeds.
#[derive(Default)]
struct Slow {
    batches: AtomicUsize,
}

#[async_trait::async_trait]
impl Embedder for Slow {
    fn id(&self) -> &str {
        "slow"
    }
    fn model(&self) -> &str {
        "local-hashed-ngrams-v1"
    }
    fn dimensions(&self) -> usize {
        LocalEmbedder::default().dimensions()
    }
    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        LocalEmbedder::default().embed_texts(texts).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_outliving_its_lease_is_worked_by_one_worker() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("lease.db")).await;
    let org = org(&store).await;
    let embedder = Arc::new(Slow::default());
    let lease = Duration::from_millis(240);
    let small_chunks = botbuilder_core::knowledge::ChunkOptions {
        max_tokens: 12,
        overlap_tokens: 0,
    };
    let worker = || {
        Arc::new(
            KnowledgeService::new(store.clone(), store.clone(), embedder.clone())
                .with_lease(lease)
                .with_chunking(small_chunks),
        )
    };
    let (first, second) = (worker(), worker());
    let kb = first
        .create_knowledge_base(org, "Big".into(), String::new())
        .await
        .unwrap();
    // Six batches of 64 chunks at 150 ms: about four leases long.
    let text: String = (0..64 * 6)
        .map(|i| format!("Paragraph {i} talks about parcel number {i}.\n\n"))
        .collect();
    let doc = first
        .add_document(org, kb.id, upload("Big", "text/plain", &text))
        .await
        .unwrap();
    let one = tokio::spawn({
        let first = first.clone();
        async move { first.work_once().await.unwrap() }
    });
    // The second worker keeps asking while the first works, past several leases.
    let mut second_found = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        second_found |= second.work_once().await.unwrap();
    }
    assert!(one.await.unwrap(), "the first worker had the job");
    assert!(!second_found, "the second worker never got the job");
    let ready = store.get_document(org, doc.id).await.unwrap();
    assert_eq!(ready.status, DocumentStatus::Ready, "{:?}", ready.error);
    let chunks = store.chunk_texts(org, kb.id).await.unwrap().len();
    assert_eq!(
        embedder.batches.load(Ordering::SeqCst),
        chunks.div_ceil(64),
        "every batch embedded once"
    );
}

#[tokio::test]
async fn a_job_whose_worker_dies_every_time_leaves_its_document_failed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("dies.db")).await;
    let org = org(&store).await;
    let knowledge = KnowledgeService::new(
        store.clone(),
        store.clone(),
        Arc::new(LocalEmbedder::default()),
    );
    let kb = knowledge
        .create_knowledge_base(org, "Docs".into(), String::new())
        .await
        .unwrap();
    let doc = knowledge
        .add_document(org, kb.id, upload("Doc", "text/plain", "Some text."))
        .await
        .unwrap();
    // A worker takes the job, marks the document processing, and dies: every attempt.
    for _ in 0..INGEST_ATTEMPTS {
        let job = store
            .reserve(&[INGEST_JOB], Duration::from_millis(20))
            .await
            .unwrap()
            .expect("the job is handed out again");
        assert_eq!(job.payload["document"], doc.id.to_string());
        store
            .set_document_status(org, doc.id, DocumentStatus::Processing, 0.3, None)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // The next worker finds no job, and records why the document never finished.
    assert!(!knowledge.work_once().await.unwrap());
    let failed = store.get_document(org, doc.id).await.unwrap();
    assert_eq!(failed.status, DocumentStatus::Failed);
    let reason = failed.error.unwrap_or_default();
    assert!(reason.contains("without an answer"), "{reason}");
    let dead = knowledge.dead_ingestions(org, kb.id).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("lease expired"));
}
