//! The same vectors in pgvector with an HNSW index, searched with the knowledge-base filter
//! inside the index scan (`hnsw.iterative_scan`), for the comparison with the embedded index.

use std::time::{Duration, Instant};

use botbuilder_core::id::ChunkId;
use botbuilder_core::knowledge::{CONNECTIVITY, EXPANSION_ADD};
use sqlx::postgres::{PgConnection, PgPoolOptions};

use super::summary;

/// One measured `ef_search`.
pub(crate) struct Run {
    pub(crate) ef_search: usize,
    pub(crate) times: Vec<Duration>,
    pub(crate) recall: f64,
}

fn literal(vector: &[f32]) -> String {
    let mut text = String::with_capacity(vector.len() * 10 + 2);
    text.push('[');
    for (i, x) in vector.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&x.to_string());
    }
    text.push(']');
    text
}

/// Loads `(kb, id, vector)` rows into a fresh table, builds HNSW (`m` and `ef_construction`
/// as the embedded graph's), and searches `queries` in knowledge base 1
/// at several `ef_search`, scoring recall@10 against `truth`.
pub(crate) async fn bench(
    url: &str,
    dimensions: usize,
    rows: &[(i32, ChunkId, Vec<f32>)],
    queries: &[Vec<f32>],
    truth: &[Vec<ChunkId>],
) -> (Duration, Duration, Vec<Run>) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("BENCH_POSTGRES_URL: a Postgres with pgvector");
    let mut conn = pool.acquire().await.unwrap();
    let conn: &mut PgConnection = &mut conn;
    sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS vector")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::raw_sql("DROP TABLE IF EXISTS search_bench")
        .execute(&mut *conn)
        .await
        .unwrap();
    let create = format!(
        "CREATE TABLE search_bench (kb int NOT NULL, id uuid NOT NULL, \
         embedding vector({dimensions}) NOT NULL)"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(&mut *conn)
        .await
        .unwrap();
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY search_bench (kb, id, embedding) FROM STDIN")
        .await
        .unwrap();
    for batch in rows.chunks(2_000) {
        let mut text = String::new();
        for (kb, id, vector) in batch {
            text.push_str(&format!("{kb}\t{id}\t{}\n", literal(vector)));
        }
        copy.send(text.into_bytes()).await.unwrap();
    }
    copy.finish().await.unwrap();
    let loaded = started.elapsed();
    sqlx::raw_sql("SET maintenance_work_mem = '8GB'")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::raw_sql("SET max_parallel_maintenance_workers = 1")
        .execute(&mut *conn)
        .await
        .unwrap();
    let started = Instant::now();
    let index = format!(
        "CREATE INDEX ON search_bench USING hnsw (embedding vector_cosine_ops) \
         WITH (m = {CONNECTIVITY}, ef_construction = {EXPANSION_ADD})"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(index))
        .execute(&mut *conn)
        .await
        .unwrap();
    let built = started.elapsed();
    sqlx::raw_sql("ANALYZE search_bench")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::raw_sql("SET hnsw.iterative_scan = relaxed_order")
        .execute(&mut *conn)
        .await
        .unwrap();
    let literals: Vec<String> = queries.iter().map(|q| literal(q)).collect();
    let mut runs = Vec::new();
    for ef_search in [40, 100, 200, 400, 800] {
        let set = format!("SET hnsw.ef_search = {ef_search}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(set))
            .execute(&mut *conn)
            .await
            .unwrap();
        let (mut times, mut found) = (Vec::new(), 0usize);
        for (query, truth) in literals.iter().zip(truth) {
            let started = Instant::now();
            let ids: Vec<(uuid::Uuid,)> = sqlx::query_as(
                "SELECT id FROM search_bench WHERE kb = 1 \
                 ORDER BY embedding <=> $1::vector LIMIT 10",
            )
            .bind(query)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
            times.push(started.elapsed());
            found += ids
                .iter()
                .filter(|(id,)| truth.contains(&ChunkId::from(*id)))
                .count();
        }
        runs.push(Run {
            ef_search,
            times,
            recall: found as f64 / (10 * truth.len()) as f64,
        });
    }
    sqlx::raw_sql("DROP TABLE search_bench")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(pool);
    (loaded, built, runs)
}

/// The table rows of `runs`.
pub(crate) fn report(loaded: Duration, built: Duration, runs: Vec<Run>) {
    println!(
        "\npgvector: COPY {:.1} s, HNSW build (m {CONNECTIVITY}, ef_construction {EXPANSION_ADD}) \
         {:.1} s\n",
        loaded.as_secs_f64(),
        built.as_secs_f64()
    );
    println!("| pgvector HNSW, kb filter inside (iterative scan) | latency | QPS | recall@10 |");
    println!("|---|---|---|---|");
    for run in runs {
        let total: Duration = run.times.iter().sum();
        let qps = run.times.len() as f64 / total.as_secs_f64();
        println!(
            "| ef_search {} | {} | {qps:.0} | {:.4} |",
            run.ef_search,
            summary(run.times),
            run.recall
        );
    }
}
