//! A file store checkpoints its write-ahead log in the background: the database file itself
//! comes to hold what was written, without any request paying for the checkpoint.

use std::time::{Duration, Instant};

use botbuilder_core::domain::{NewOrganization, NewUser};
use botbuilder_core::store::prelude::*;
use botbuilder_store::SqliteStore;

async fn users_in_main_file_only(db: &std::path::Path, scratch: &std::path::Path) -> i64 {
    // A copy of the main file alone (no -wal beside it) shows what was checkpointed.
    std::fs::copy(db, scratch).unwrap();
    let copy = sqlx::SqlitePool::connect(&format!("sqlite://{}", scratch.display()))
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&copy)
        .await
        .unwrap_or((0,));
    copy.close().await;
    n
}

#[tokio::test]
async fn the_wal_reaches_the_database_file_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bots.db");
    let store = SqliteStore::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    for i in 0..20 {
        store
            .create_user_with_org(
                NewUser {
                    email: format!("u{i}@example.com"),
                    name: "U".into(),
                    password_hash: "-".into(),
                },
                NewOrganization { name: "O".into() },
            )
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let scratch = dir.path().join("copy.db");
    loop {
        let n = users_in_main_file_only(&db, &scratch).await;
        if n == 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} of 20 users reached the database file"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    store.close().await;
}
