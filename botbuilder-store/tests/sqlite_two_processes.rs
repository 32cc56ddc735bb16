//! Two stores on one database file, as a running server and `botbuilder kb ingest` (or
//! `chat`) are: writes from both interleave without `database is locked`, transactions that
//! read before they write included.

use botbuilder_core::domain::{
    DocumentSource, NewChunk, NewDocument, NewKnowledgeBase, NewOrganization, NewUser,
};
use botbuilder_core::queue::{JobQueue, NewJob};
use botbuilder_core::store::prelude::*;
use botbuilder_store::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_write_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let server = SqliteStore::connect(&url).await.unwrap();
    let cli = SqliteStore::connect(&url).await.unwrap();
    let (_, org) = server
        .create_user_with_org(
            NewUser {
                email: "ops@example.com".into(),
                name: "Ops".into(),
                password_hash: "-".into(),
            },
            NewOrganization { name: "Ops".into() },
        )
        .await
        .unwrap();
    let kb = server
        .create_knowledge_base(
            org.id,
            NewKnowledgeBase {
                name: "Docs".into(),
                description: String::new(),
                embedding: botbuilder_core::domain::EmbedderRecord {
                    provider: "local".into(),
                    model: "m".into(),
                    dimensions: 2,
                },
            },
        )
        .await
        .unwrap();
    let work = |store: SqliteStore, tag: &'static str| async move {
        for i in 0..40 {
            store
                .create_user_with_org(
                    NewUser {
                        email: format!("{tag}{i}@example.com"),
                        name: "U".into(),
                        password_hash: "-".into(),
                    },
                    NewOrganization { name: "O".into() },
                )
                .await
                .unwrap_or_else(|e| panic!("{tag} user {i}: {e}"));
            let doc = store
                .create_document(
                    org.id,
                    kb.id,
                    NewDocument {
                        title: format!("{tag}{i}"),
                        source: DocumentSource::Text,
                        content_type: "text/plain".into(),
                        content_hash: format!("{tag}-{i}"),
                        size_bytes: 1,
                        content: b"x".to_vec(),
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("{tag} document {i}: {e}"));
            let chunk = NewChunk {
                position: 0,
                text: "x".into(),
                heading_path: Vec::new(),
                token_count: 1,
                embedding: vec![1.0, 0.0],
            };
            store
                .replace_chunks(org.id, doc.id, vec![chunk])
                .await
                .unwrap_or_else(|e| panic!("{tag} chunks {i}: {e}"));
            store
                .enqueue(NewJob {
                    kind: "k".into(),
                    payload: serde_json::json!({}),
                    max_attempts: 1,
                })
                .await
                .unwrap_or_else(|e| panic!("{tag} job {i}: {e}"));
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(work(server.clone(), "server")),
        tokio::spawn(work(cli.clone(), "cli"))
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(server.chunk_texts(org.id, kb.id).await.unwrap().len(), 80);
}
