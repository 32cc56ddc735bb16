//! `botbuilder kb ingest --kb ID PATH...`: adds files and folders to a knowledge base straight
//! into the configured database and ingests them in this process, with a progress bar.
//!
//! Folders are walked recursively (hidden entries skipped); a file's type comes from its
//! extension (`.txt`, `.csv`, `.md`, `.html`, `.pdf`, ...). Files already in the knowledge
//! base with the same content are left alone; files of other types are listed as skipped. A
//! server running on the same database may take some of the jobs: the command waits for every
//! document it added either way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use botbuilder_core::domain::{DocumentSource, DocumentStatus};
use botbuilder_core::id::{DocumentId, KnowledgeBaseId};
use botbuilder_core::knowledge::extract::{content_type_for_name, own_title};
use botbuilder_core::knowledge::{DocumentExtractor, KnowledgeError, Upload};
use botbuilder_core::store::StoreError;
use indicatif::{ProgressBar, ProgressStyle};

use crate::routes::documents::sha256_hex;
use crate::state::{Embedders, knowledge_service, open_backend};

/// Creates a knowledge base in `org` on `database_url`, recording the default embedder.
pub async fn create_knowledge_base(
    database_url: &str,
    embedders: Embedders,
    org: botbuilder_core::id::OrgId,
    name: String,
    description: String,
) -> anyhow::Result<botbuilder_core::domain::KnowledgeBase> {
    let name = name.trim().to_owned();
    botbuilder_core::validate::name(&name).map_err(|why| anyhow::anyhow!("--name {why}"))?;
    botbuilder_core::validate::text(
        &description,
        0,
        botbuilder_core::validate::MAX_DESCRIPTION_CHARS,
    )
    .map_err(|why| anyhow::anyhow!("--description: {why}"))?;
    let (store, queue) = open_backend(database_url).await?;
    store
        .get_org(org)
        .await
        .with_context(|| format!("no organization {org} in {database_url}"))?;
    let extractor = Arc::new(botbuilder_core::knowledge::InProcessExtractor::default());
    let knowledge = knowledge_service(store, queue, embedders, extractor, None);
    Ok(knowledge
        .create_knowledge_base(org, name, description)
        .await?)
}

/// The knowledge bases of `org` on `database_url`, with their document counts.
pub async fn list_knowledge_bases(
    database_url: &str,
    org: botbuilder_core::id::OrgId,
) -> anyhow::Result<Vec<(botbuilder_core::domain::KnowledgeBase, usize)>> {
    use botbuilder_core::domain::PageRequest;
    let (store, _) = open_backend(database_url).await?;
    store
        .get_org(org)
        .await
        .with_context(|| format!("no organization {org} in {database_url}"))?;
    let mut found = Vec::new();
    let mut page = PageRequest::first(PageRequest::MAX_LIMIT);
    loop {
        let bases = store.list_knowledge_bases(org, page).await?;
        for kb in bases.items {
            let mut documents = 0;
            let mut docs_page = PageRequest::first(PageRequest::MAX_LIMIT);
            loop {
                let docs = store.list_documents(org, kb.id, docs_page).await?;
                documents += docs.items.len();
                match docs.next_cursor {
                    Some(cursor) => docs_page.cursor = Some(cursor),
                    None => break,
                }
            }
            found.push((kb, documents));
        }
        match bases.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(found)
}

/// What an ingestion run did.
#[derive(Debug, Default)]
pub struct IngestReport {
    /// The knowledge base's name.
    pub knowledge_base: String,
    /// Documents now `ready`, by file.
    pub ready: Vec<PathBuf>,
    /// Documents that ended `failed`, with the reason.
    pub failed: Vec<(PathBuf, String)>,
    /// Files whose content the knowledge base already holds.
    pub unchanged: Vec<PathBuf>,
    /// Files not added, with the reason (unsupported type, empty, not UTF-8, too large).
    pub skipped: Vec<(PathBuf, String)>,
    /// Bytes of the documents added.
    pub bytes: u64,
    /// Wall time from the first file read to the last document settled.
    pub elapsed: Duration,
}

impl IngestReport {
    /// A one-paragraph summary, then one line per failed or skipped file.
    pub fn summary(&self) -> String {
        #[allow(clippy::cast_precision_loss)] // a rate for people
        let megabytes = self.bytes as f64 / 1_000_000.0;
        let seconds = self.elapsed.as_secs_f64().max(1e-3);
        let mut out = format!(
            "{}: {} ready, {} failed, {} unchanged, {} skipped; {megabytes:.2} MB in {seconds:.2} s ({:.2} MB/s)\n",
            self.knowledge_base,
            self.ready.len(),
            self.failed.len(),
            self.unchanged.len(),
            self.skipped.len(),
            megabytes / seconds,
        );
        for (path, reason) in &self.failed {
            out.push_str(&format!("failed  {}: {reason}\n", path.display()));
        }
        for (path, reason) in &self.skipped {
            out.push_str(&format!("skipped {}: {reason}\n", path.display()));
        }
        out
    }
}

/// Every file under `paths` with the name it is stored under: a file given directly by its
/// name, a file found in a folder by its path from that folder's parent (`docs/tokio/README.md`),
/// so documents with the same file name stay apart.
pub fn collect_files_named(paths: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut named = Vec::new();
    for path in paths {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for file in collect_files(std::slice::from_ref(path))? {
            let shown = file
                .strip_prefix(&base)
                .unwrap_or(&file)
                .to_string_lossy()
                .into_owned();
            named.push((file, shown));
        }
    }
    Ok(named)
}

/// Every file under `paths` (files as given, folders walked in name order, hidden entries
/// skipped).
pub fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Adds `paths` to knowledge base `kb` in `database_url` and ingests them with its embedder (one of `embedders`),
/// reading them with `extractor` (see the module docs); `progress` draws a bar on the terminal.
pub async fn ingest(
    database_url: &str,
    embedders: Embedders,
    extractor: Arc<dyn DocumentExtractor>,
    kb: KnowledgeBaseId,
    paths: &[PathBuf],
    progress: bool,
) -> anyhow::Result<IngestReport> {
    let (store, queue) = open_backend(database_url).await?;
    let knowledge = Arc::new(knowledge_service(
        store.clone(),
        queue,
        embedders,
        extractor,
        None,
    ));
    let base = store
        .locate_knowledge_base(kb)
        .await
        .with_context(|| format!("no knowledge base {kb} in {database_url}"))?;
    let org = base.org_id;
    let started = Instant::now();
    let mut report = IngestReport {
        knowledge_base: base.name.clone(),
        ..IngestReport::default()
    };
    let mut added: Vec<(DocumentId, PathBuf, u64)> = Vec::new();
    for (path, shown) in collect_files_named(paths)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(content_type) = content_type_for_name(&name) else {
            report
                .skipped
                .push((path, "unsupported file type".to_owned()));
            continue;
        };
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let size = bytes.len() as u64;
        let upload = Upload {
            title: own_title(content_type, &bytes).unwrap_or_else(|| shown.clone()),
            source: DocumentSource::File { filename: shown },
            content_type: content_type.to_owned(),
            content_hash: sha256_hex(&bytes),
            bytes,
        };
        match knowledge.add_document(org, kb, upload).await {
            Ok(doc) => {
                report.bytes += size;
                added.push((doc.id, path, size));
            }
            Err(KnowledgeError::Store(StoreError::Conflict(_))) => report.unchanged.push(path),
            Err(KnowledgeError::Unreadable(why)) => report.skipped.push((path, why.to_string())),
            Err(other) => return Err(other.into()),
        }
    }

    let bar = if progress {
        ProgressBar::new(report.bytes)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {bytes}/{total_bytes} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut waiting = added;
    while !waiting.is_empty() {
        // Work here; a server on the same database may work some jobs too.
        let worked = knowledge.work_once().await.unwrap_or_else(|e| {
            tracing::warn!("ingestion: {e}");
            false
        });
        let mut still = Vec::with_capacity(waiting.len());
        for (id, path, size) in waiting {
            let doc = store.get_document(org, id).await?;
            match doc.status {
                DocumentStatus::Ready => {
                    bar.inc(size);
                    report.ready.push(path);
                }
                DocumentStatus::Failed => {
                    bar.inc(size);
                    let reason = doc.error.unwrap_or_else(|| "unknown".to_owned());
                    report.failed.push((path, reason));
                }
                DocumentStatus::Pending | DocumentStatus::Processing => {
                    if doc.status == DocumentStatus::Processing {
                        bar.set_message(path.display().to_string());
                    }
                    still.push((id, path, size));
                }
            }
        }
        waiting = still;
        if !worked && !waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    bar.finish_and_clear();
    report.elapsed = started.elapsed();
    Ok(report)
}
