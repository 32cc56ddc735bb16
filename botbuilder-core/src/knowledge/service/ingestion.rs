//! Ingestion: the worker side of the service (see the parent module's docs).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::*;

impl KnowledgeService {
    /// Ingests one document now: extract (through the service's [`DocumentExtractor`]),
    /// chunk (on a blocking thread, within [`CHUNK_TIMEOUT`]), embed (progress after each
    /// batch), store. An unreadable document ends `failed` with the reason (and the error is
    /// returned); a reader that is unavailable leaves it to a retry.
    pub async fn ingest(&self, org: OrgId, doc: DocumentId) -> Result<Document, KnowledgeError> {
        let document = self.store.get_document(org, doc).await?;
        let kb = self.store.get_knowledge_base(org, document.kb_id).await?;
        self.store
            .set_document_status(org, doc, DocumentStatus::Processing, 0.0, None)
            .await?;
        let bytes = self.store.document_content(org, doc).await?;
        let read = self.extractor.extract(&document.content_type, bytes).await;
        let pieces = match read {
            Ok(Extracted { text, format, .. }) => {
                chunk_off_runtime(text, format, self.chunking).await
            }
            Err(e) => Err(e),
        };
        let pieces = match pieces {
            Ok(pieces) => pieces,
            Err(e) => {
                if !e.is_retryable() {
                    self.store
                        .set_document_status(
                            org,
                            doc,
                            DocumentStatus::Failed,
                            0.0,
                            Some(e.to_string()),
                        )
                        .await?;
                }
                return Err(e.into());
            }
        };
        let embedder = self.embedder_of(&kb).await?;
        let mut chunks = Vec::with_capacity(pieces.len());
        let total = pieces.len().max(1);
        for batch in pieces.chunks(EMBED_BATCH) {
            let texts: Vec<String> = batch.iter().map(|p| embedding_text(&document, p)).collect();
            let vectors = embedder.embed_texts(&texts).await?;
            if vectors
                .iter()
                .any(|v| v.len() != kb.embedding_dimensions as usize)
            {
                return Err(VectorError::Dimensions {
                    expected: kb.embedding_dimensions as usize,
                    got: vectors.first().map_or(0, Vec::len),
                }
                .into());
            }
            for (piece, embedding) in batch.iter().zip(vectors) {
                chunks.push(NewChunk {
                    position: piece.position,
                    text: piece.text.clone(),
                    heading_path: piece.heading_path.clone(),
                    token_count: piece.token_count,
                    embedding,
                });
            }
            if chunks.len() < pieces.len() {
                // Progress only between batches: a small document is one write less.
                #[allow(clippy::cast_precision_loss)] // a progress ratio
                let progress = chunks.len() as f32 / total as f32 * 0.95;
                self.store
                    .set_document_status(org, doc, DocumentStatus::Processing, progress, None)
                    .await?;
            }
        }
        let ready = self.store.replace_chunks(org, doc, chunks).await?;
        self.forget_index(document.kb_id);
        Ok(ready)
    }

    /// Marks `failed` the documents of ingestion jobs whose final lease ran out (their worker
    /// died or was killed on every attempt), at most every [`REAP_EVERY`].
    async fn reap_dead_ingestions(&self) -> Result<(), KnowledgeError> {
        {
            let mut last = self.last_reap.lock().expect("reap clock poisoned");
            if last.is_some_and(|at| at.elapsed() < REAP_EVERY) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        for job in self.queue.reap_expired(&[INGEST_JOB]).await? {
            let Some((org, doc)) = ingestion_target(&job.payload) else {
                continue;
            };
            let reason = format!(
                "ingestion stopped without an answer on each of its {} attempts (the worker \
                 died or was killed)",
                job.attempts
            );
            tracing::warn!(document = %doc, "{reason}");
            match self
                .store
                .set_document_status(org, doc, DocumentStatus::Failed, 0.0, Some(reason))
                .await
            {
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Takes one ingestion job off the queue and runs it, extending its lease while it runs;
    /// `false` when there was none. A failure is reported to the queue (retried later); the
    /// last one marks the document `failed`, as does a job whose final lease ran out.
    pub async fn work_once(&self) -> Result<bool, KnowledgeError> {
        self.reap_dead_ingestions().await?;
        let Some(job) = self.queue.reserve(&[INGEST_JOB], self.lease).await? else {
            return Ok(false);
        };
        let Some((org, doc)) = ingestion_target(&job.payload) else {
            self.queue
                .fail(job.id, "malformed job payload", Duration::ZERO)
                .await?;
            return Ok(true);
        };
        let result = tokio::select! {
            result = self.ingest(org, doc) => result,
            lost = self.keep_lease(&job) => {
                // Another worker may hold the job now: stop, and leave the rest to it.
                tracing::warn!(document = %doc, "ingestion lease lost ({lost}); stopped");
                return Ok(true);
            }
            () = tokio::time::sleep(INGEST_DEADLINE) => Err(KnowledgeError::Unreadable(
                ExtractError::Unavailable(format!(
                    "ingestion took longer than {} minutes",
                    INGEST_DEADLINE.as_secs() / 60
                )),
            )),
        };
        match result {
            Ok(_) => self.queue.complete(job.id).await?,
            // Gone (deleted meanwhile) or unreadable: retrying cannot help.
            Err(KnowledgeError::Store(StoreError::NotFound)) => {
                self.queue.complete(job.id).await?;
            }
            Err(KnowledgeError::Unreadable(e)) if !e.is_retryable() => {
                self.queue.complete(job.id).await?;
            }
            Err(e) => {
                let reason = crate::error_chain(&e);
                tracing::warn!(document = %doc, attempt = job.attempt, "ingestion failed: {reason}");
                if job.attempt >= INGEST_ATTEMPTS {
                    let _ = self
                        .store
                        .set_document_status(
                            org,
                            doc,
                            DocumentStatus::Failed,
                            0.0,
                            Some(reason.clone()),
                        )
                        .await;
                }
                let backoff = Duration::from_secs(5 * u64::from(job.attempt));
                self.queue.fail(job.id, &reason, backoff).await?;
            }
        }
        Ok(true)
    }

    /// Extends `job`'s lease every third of it; returns when the lease is lost.
    async fn keep_lease(&self, job: &LeasedJob) -> QueueError {
        loop {
            tokio::time::sleep(self.lease / 3).await;
            match self.queue.extend_lease(job, self.lease).await {
                Ok(()) => {}
                Err(QueueError::NotFound) => return QueueError::NotFound,
                // The queue hiccupped: the lease still has two thirds to run; try again.
                Err(e) => tracing::warn!("cannot extend an ingestion lease: {e}"),
            }
        }
    }

    /// Works the queue until `shutdown` resolves, pausing `idle` when it is empty.
    pub async fn run_worker(self: Arc<Self>, idle: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let worked = tokio::select! {
                () = &mut shutdown => return,
                result = self.work_once() => result,
            };
            let pause = match worked {
                Ok(true) => continue,
                Ok(false) => idle,
                Err(e) => {
                    tracing::warn!("ingestion worker: {e}");
                    idle
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// The organization and document an ingestion job's payload names.
fn ingestion_target(payload: &serde_json::Value) -> Option<(OrgId, DocumentId)> {
    let org = serde_json::from_value(payload["org"].clone()).ok()?;
    let doc = serde_json::from_value(payload["document"].clone()).ok()?;
    Some((org, doc))
}

/// Chunks `text` on a blocking thread, within [`CHUNK_TIMEOUT`]; dropping the future stops
/// the thread at its next chunk.
async fn chunk_off_runtime(
    text: String,
    format: TextFormat,
    options: ChunkOptions,
) -> Result<Vec<TextChunk>, ExtractError> {
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let flag = stop.0.clone();
    let deadline = Instant::now() + CHUNK_TIMEOUT;
    let work = tokio::task::spawn_blocking(move || {
        let stop = || flag.load(Ordering::Relaxed) || Instant::now() >= deadline;
        chunk_text_with(&text, format, options, &stop)
    });
    // The thread checks the deadline between chunks; this bounds the wait even if one chunk
    // took far too long (the thread is then abandoned, its stop flag set).
    match tokio::time::timeout(CHUNK_TIMEOUT + Duration::from_secs(30), work).await {
        Ok(Ok(Some(pieces))) => Ok(pieces),
        Ok(Ok(None)) | Err(_) => Err(ExtractError::Timeout),
        Ok(Err(e)) => Err(ExtractError::Crashed(format!("chunking failed: {e}"))),
    }
}

/// What is embedded for a chunk: the document title and headings give a short passage its
/// context ("Refunds > Exceptions: Sale items are final").
fn embedding_text(document: &Document, piece: &TextChunk) -> String {
    let mut context = vec![document.title.as_str()];
    context.extend(piece.heading_path.iter().map(String::as_str));
    format!("{}\n{}", context.join(" > "), piece.text)
}
