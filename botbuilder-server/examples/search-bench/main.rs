//! Search latency and vector recall at scale, on synthetic chunks in a SQLite file store.
//!
//! ```sh
//! cargo run --release -p botbuilder-server --example search-bench            # 10k and 100k
//! SIZES=10000,100000,1000000 cargo run --release -p botbuilder-server --example search-bench
//! ```
//!
//! For each size: documents of 100 chunks of 60 words (Zipf-distributed over a 20,000-word
//! vocabulary, like natural text) embedded by the offline local embedder and stored in one
//! knowledge base (plus a second organization's knowledge base of the same size, at most
//! 100k, so every search filters). Then 200 queries (three words from a random chunk, two common words):
//!
//! - latency p50 / p99 of `KnowledgeService::search` per mode (keyword, vector, hybrid), top 10,
//!   with results resolved to stored chunks and titles, as the API returns them, beside the
//!   store's SQLite FTS5 search (the keyword baseline, 40 results as hybrid asks for);
//! - the vector index alone, top 10, each against the exact `f32` scan (the baseline, same
//!   run): the quantized scan with exact re-ranking, and the HNSW graph with exact re-ranking
//!   (latency, QPS on one core, recall@10; build time from scratch, rebuild time from a saved
//!   graph after 1 % of the chunks changed, and the saved file's write and read times);
//! - with `BENCH_POSTGRES_URL=postgres://…` (a database to scribble in, with pgvector), the
//!   same vectors in pgvector with an HNSW index of the same parameters, searched with the
//!   knowledge-base filter inside the scan (`hnsw.iterative_scan`): load and build time,
//!   latency, QPS and recall@10 at several `ef_search`.

mod pgvector;

use std::sync::Arc;
use std::time::{Duration, Instant};

use botbuilder_core::domain::{DocumentSource, NewChunk, NewDocument, NewOrganization, NewUser};
use botbuilder_core::embed::Embedder;
use botbuilder_core::id::{ChunkId, KnowledgeBaseId, OrgId};
use botbuilder_core::knowledge::{KnowledgeService, SearchMode, SearchRequest, VectorIndex};
use botbuilder_core::store::prelude::*;
use botbuilder_providers::local::LocalEmbedder;
use botbuilder_store::SqliteStore;

const CHUNKS_PER_DOC: usize = 100;
const WORDS_PER_CHUNK: usize = 60;
const VOCABULARY: usize = 20_000;
const QUERIES: usize = 200;
/// Chunks of the other organization, at most.
const NOISE_MAX: usize = 100_000;

/// xorshift64*: deterministic and fast.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Pronounceable pseudo-words ("tabo", "kerimu", ...), distinct.
fn vocabulary() -> Vec<String> {
    const SYLLABLES: [&str; 20] = [
        "ta", "bo", "ke", "ri", "mu", "sa", "lo", "ne", "vi", "du", "pa", "go", "fe", "zi", "ha",
        "co", "ju", "we", "ny", "xo",
    ];
    (0..VOCABULARY)
        .map(|mut i| {
            let mut word = String::new();
            loop {
                word.push_str(SYLLABLES[i % SYLLABLES.len()]);
                i /= SYLLABLES.len();
                if i == 0 {
                    break;
                }
            }
            word.push('n');
            word
        })
        .collect()
}

/// Zipf(1) sampler over ranks.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize) -> Self {
        let mut total = 0.0;
        Self(
            (1..=n)
                .map(|r| {
                    total += 1.0 / r as f64;
                    total
                })
                .collect(),
        )
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let x = rng.unit() * self.0.last().copied().unwrap_or(1.0);
        self.0.partition_point(|c| *c < x).min(self.0.len() - 1)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    format!(
        "p50 {:>7.3} ms  p99 {:>7.3} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    )
}

/// Fills a knowledge base with `n` chunks; returns the chunk texts.
async fn fill(
    store: &SqliteStore,
    embedder: &LocalEmbedder,
    org: OrgId,
    kb: KnowledgeBaseId,
    n: usize,
    seed: u64,
) -> Vec<String> {
    let words = vocabulary();
    let zipf = Zipf::new(VOCABULARY);
    let mut rng = Rng(seed);
    let mut texts = Vec::with_capacity(n);
    for d in 0..n.div_ceil(CHUNKS_PER_DOC) {
        let count = CHUNKS_PER_DOC.min(n - d * CHUNKS_PER_DOC);
        let chunk_texts: Vec<String> = (0..count)
            .map(|_| {
                (0..WORDS_PER_CHUNK)
                    .map(|_| words[zipf.sample(&mut rng)].as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let vectors = embedder.embed_texts(&chunk_texts).await.unwrap();
        let doc = store
            .create_document(
                org,
                kb,
                NewDocument {
                    title: format!("Document {d}"),
                    source: DocumentSource::Text,
                    content_type: "text/plain".into(),
                    content_hash: format!("{seed}-{d}"),
                    size_bytes: 1,
                    content: b"-".to_vec(),
                },
            )
            .await
            .unwrap();
        let chunks = chunk_texts
            .iter()
            .zip(vectors)
            .enumerate()
            .map(|(i, (text, embedding))| NewChunk {
                position: i as u32,
                text: text.clone(),
                heading_path: Vec::new(),
                token_count: WORDS_PER_CHUNK as u32,
                embedding,
            })
            .collect();
        store.replace_chunks(org, doc.id, chunks).await.unwrap();
        texts.extend(chunk_texts);
    }
    texts
}

async fn tenant(store: &SqliteStore, name: &str) -> OrgId {
    store
        .create_user_with_org(
            NewUser {
                email: format!("{name}@example.com"),
                name: name.into(),
                password_hash: "-".into(),
            },
            NewOrganization { name: name.into() },
        )
        .await
        .unwrap()
        .1
        .id
}

async fn run(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
    let embedder = Arc::new(LocalEmbedder::default());
    let knowledge = KnowledgeService::new(store.clone(), store.clone(), embedder.clone());
    let (org, other) = (tenant(&store, "bench").await, tenant(&store, "other").await);
    let kb = knowledge
        .create_knowledge_base(org, "bench".into(), String::new())
        .await
        .unwrap();
    let noise = knowledge
        .create_knowledge_base(other, "noise".into(), String::new())
        .await
        .unwrap();

    let started = Instant::now();
    let texts = fill(&store, &embedder, org, kb.id, n, 7).await;
    let indexed = started.elapsed();
    let noise_chunks = n.min(NOISE_MAX);
    fill(&store, &embedder, other, noise.id, noise_chunks, 11).await;
    println!(
        "\n## {n} chunks (+{noise_chunks} in another organization)\n\nbulk indexing (embed + store + FTS): {:.0} chunks/s",
        n as f64 / indexed.as_secs_f64()
    );

    let words = vocabulary();
    let zipf = Zipf::new(200);
    let mut rng = Rng(99);
    let queries: Vec<String> = (0..QUERIES)
        .map(|_| {
            let source: Vec<&str> = texts[(rng.next() as usize) % texts.len()]
                .split(' ')
                .collect();
            let mut picked: Vec<&str> = (0..3)
                .map(|_| source[(rng.next() as usize) % source.len()])
                .collect();
            picked.extend((0..2).map(|_| words[zipf.sample(&mut rng)].as_str()));
            picked.join(" ")
        })
        .collect();

    // The HNSW graph, built once and saved where the service looks for it, so the service's
    // first search restores it (as after a restart) rather than building it a second time.
    let indexes = dir.path().join("indexes");
    let embeddings = store.chunk_embeddings(org, kb.id).await.unwrap();
    let started = Instant::now();
    let graph = VectorIndex::build(embedder.dimensions(), embeddings, 1, None).unwrap();
    let graph_built = started.elapsed();
    let snapshot = graph.snapshot().unwrap().unwrap();
    snapshot
        .write(&indexes.join(format!("{}.hnsw", kb.id)))
        .unwrap();
    drop(snapshot);
    let knowledge = knowledge.with_index_dir(&indexes);

    // Build the caches (vector index, titles) once, as a running server has them.
    let started = Instant::now();
    for mode in [SearchMode::Vector, SearchMode::Keyword] {
        let request = SearchRequest {
            query: queries[0].clone(),
            mode,
            top_k: 10,
            min_score: 0.0,
        };
        knowledge.search(org, &[kb.id], &request).await.unwrap();
    }
    println!(
        "first search (builds the keyword index, and the vector index from the saved graph \
         beyond {} chunks): {:.2} s\n",
        botbuilder_core::knowledge::APPROXIMATE_FROM,
        started.elapsed().as_secs_f64()
    );
    println!("| search, top 10 | latency |\n|---|---|");
    for (name, mode) in [
        ("keyword", SearchMode::Keyword),
        ("vector", SearchMode::Vector),
        ("hybrid", SearchMode::Hybrid),
    ] {
        let mut times = Vec::with_capacity(QUERIES);
        for query in &queries {
            let request = SearchRequest {
                query: query.clone(),
                mode,
                top_k: 10,
                min_score: 0.0,
            };
            let started = Instant::now();
            let hits = knowledge.search(org, &[kb.id], &request).await.unwrap();
            times.push(started.elapsed());
            assert!(hits.len() <= 10);
        }
        println!("| {name} (service) | {} |", summary(times));
    }
    // The store's own full-text search (SQLite FTS5 BM25), the keyword baseline (seconds per
    // query beyond 100k chunks: left out there).
    let mut times = Vec::with_capacity(QUERIES);
    for query in queries.iter().filter(|_| n <= NOISE_MAX) {
        let started = Instant::now();
        store
            .keyword_search(org, &[kb.id], query, 40)
            .await
            .unwrap();
        times.push(started.elapsed());
    }
    if !times.is_empty() {
        println!("| keyword, SQLite FTS5 (baseline) | {} |", summary(times));
    }

    drop(knowledge);
    let kbs = ((org, kb.id), (other, noise.id));
    vector_index_alone(&store, &embedder, kbs, (graph, graph_built), &queries).await;
}

fn qps(times: &[Duration]) -> f64 {
    times.len() as f64 / times.iter().sum::<Duration>().as_secs_f64()
}

/// Times `search` over `queries`; recall@10 against `truth`.
fn measure(
    queries: &[Vec<f32>],
    truth: &[Vec<ChunkId>],
    search: impl Fn(&[f32]) -> Vec<(ChunkId, f32)>,
) -> (Vec<Duration>, f64) {
    let (mut times, mut found) = (Vec::with_capacity(queries.len()), 0usize);
    for (q, truth) in queries.iter().zip(truth) {
        let started = Instant::now();
        let hits = search(q);
        times.push(started.elapsed());
        found += hits.iter().filter(|(id, _)| truth.contains(id)).count();
    }
    (times, found as f64 / (10 * queries.len()) as f64)
}

/// The vector index alone: quantized scan and HNSW graph against the exact f32 scan, and
/// pgvector when `BENCH_POSTGRES_URL` is set.
async fn vector_index_alone(
    store: &SqliteStore,
    embedder: &LocalEmbedder,
    ((org, kb), (other, noise)): ((OrgId, KnowledgeBaseId), (OrgId, KnowledgeBaseId)),
    (graph, built): (VectorIndex, Duration),
    queries: &[String],
) {
    let dimensions = embedder.dimensions();
    let embeddings = store.chunk_embeddings(org, kb).await.unwrap();
    let vectors = embedder.embed_texts(queries).await.unwrap();
    let scan = VectorIndex::from_vectors(dimensions, embeddings.clone()).unwrap();
    let truth: Vec<Vec<ChunkId>> = vectors
        .iter()
        .map(|q| {
            let exact = scan.search_exact(q, 10).unwrap();
            exact.into_iter().map(|(id, _)| id).collect()
        })
        .collect();

    assert!(graph.is_approximate());
    let snapshot = graph.snapshot().unwrap().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("graph.hnsw");
    let started = Instant::now();
    snapshot.write(&file).unwrap();
    let written = started.elapsed();
    let started = Instant::now();
    let read = botbuilder_core::knowledge::GraphSnapshot::read(&file).unwrap();
    let read_time = started.elapsed();
    // 1 % of the chunks replaced by new ones (a document re-ingested, say).
    let mut changed = embeddings.clone();
    for row in changed.iter_mut().step_by(100) {
        row.0 = ChunkId::new();
    }
    let started = Instant::now();
    let rebuilt = VectorIndex::build(dimensions, changed, 1, Some(&read)).unwrap();
    let rebuild = started.elapsed();
    // Each new chunk took the slot of a replaced one.
    assert!(rebuilt.is_approximate());
    assert_eq!(rebuilt.snapshot().unwrap().unwrap().removed(), 0);
    drop((rebuilt, read, snapshot));
    println!(
        "\nHNSW graph (M {}, ef_construction {}): built from scratch in {:.1} s on {} threads; \
         saved in {:.2} s, read in {:.2} s; rebuilt from the saved graph after 1 % of the \
         chunks changed in {:.1} s\n",
        botbuilder_core::knowledge::CONNECTIVITY,
        botbuilder_core::knowledge::EXPANSION_ADD,
        built.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        written.as_secs_f64(),
        read_time.as_secs_f64(),
        rebuild.as_secs_f64(),
    );

    println!("| vector index, top 10 | latency | QPS | recall@10 |\n|---|---|---|---|");
    let rows = [
        ("exact f32 scan (baseline)", true),
        ("i8 scan + exact re-rank", false),
    ];
    for (name, exact) in rows {
        let (times, recall) = measure(&vectors, &truth, |q| {
            if exact {
                scan.search_exact(q, 10).unwrap()
            } else {
                scan.search(q, 10).unwrap()
            }
        });
        let qps = qps(&times);
        println!("| {name} | {} | {qps:.0} | {recall:.4} |", summary(times));
    }
    let mut graph = graph;
    for expansion in [128, 256, 512, 1024] {
        graph.set_search_expansion(expansion);
        let (times, recall) = measure(&vectors, &truth, |q| graph.search(q, 10).unwrap());
        let qps = qps(&times);
        println!(
            "| HNSW graph, ef {expansion}, + exact re-rank | {} | {qps:.0} | {recall:.4} |",
            summary(times)
        );
    }
    drop((scan, graph));

    if let Ok(url) = std::env::var("BENCH_POSTGRES_URL") {
        let mut rows: Vec<(i32, ChunkId, Vec<f32>)> =
            embeddings.into_iter().map(|(id, v)| (1, id, v)).collect();
        let noise = store.chunk_embeddings(other, noise).await.unwrap();
        rows.extend(noise.into_iter().map(|(id, v)| (2, id, v)));
        let (loaded, built, runs) =
            pgvector::bench(&url, dimensions, &rows, &vectors, &truth).await;
        pgvector::report(loaded, built, runs);
    }
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("SIZES")
        .unwrap_or_else(|_| "10000,100000".to_owned())
        .split(',')
        .map(|s| s.trim().parse().expect("SIZES: comma separated numbers"))
        .collect();
    for n in sizes {
        run(n).await;
    }
}
