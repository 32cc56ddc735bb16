//! Test support: a fresh database per test on the server named by
//! `BOTBUILDER_TEST_POSTGRES_URL` (as `scripts/test` and `scripts/services` provision it).

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use uuid::Uuid;

/// The environment variable naming the test server (`postgres://user@host:port/db`).
pub const TEST_URL_VAR: &str = "BOTBUILDER_TEST_POSTGRES_URL";

/// Creates an empty, uniquely named database on the test server and returns its URL; `None`
/// when [`TEST_URL_VAR`] is unset, which is allowed only outside CI (`test` names the caller
/// in the message).
///
/// # Panics
/// Under `CI` without the variable, or when the server refuses to create the database: a test
/// that cannot reach its backend fails rather than passing unseen.
pub async fn fresh_database(test: &str) -> Option<String> {
    let Ok(url) = std::env::var(TEST_URL_VAR) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: {TEST_URL_VAR} is not set, and under CI Postgres must be tested"
        );
        eprintln!("skipped {test}: {TEST_URL_VAR} is not set");
        return None;
    };
    let mut admin = PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{test}: cannot reach {url}: {e}"));
    let name = format!("t_{}", Uuid::now_v7().simple());
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap_or_else(|e| panic!("{test}: cannot create a database: {e}"));
    let _ = admin.close().await;
    let (server, _) = url.rsplit_once('/').expect("a database in the URL");
    Some(format!("{server}/{name}"))
}
