//! The approximate vector graph of large knowledge bases through the knowledge service: saved
//! to the index directory, rebuilt from the previous graph after a change and from the file
//! after a restart, and never a way into another tenant's chunks.

mod support;

use std::path::Path;
use std::sync::Arc;

use support::{open, org, upload};

use botbuilder_core::domain::{NewOrganization, NewUser};
use botbuilder_core::id::{KnowledgeBaseId, OrgId};
use botbuilder_core::knowledge::{
    GraphSnapshot, KnowledgeError, KnowledgeService, SearchHit, SearchMode, SearchRequest,
};
use botbuilder_core::store::StoreError;
use botbuilder_core::store::prelude::*;
use botbuilder_providers::local::LocalEmbedder;
use botbuilder_store::SqliteStore;

/// Knowledge bases of this many chunks or more get a graph in these tests.
const APPROXIMATE_FROM: usize = 8;

/// Topics, one per document; each names a distinct animal.
const ANIMALS: [&str; 12] = [
    "zebra", "otter", "falcon", "walrus", "lynx", "heron", "beaver", "gecko", "bison", "koala",
    "marmot", "puffin",
];

fn service(store: &Arc<SqliteStore>, indexes: &Path) -> KnowledgeService {
    KnowledgeService::new(
        store.clone(),
        store.clone(),
        Arc::new(LocalEmbedder::default()),
    )
    .with_approximate_from(APPROXIMATE_FROM)
    .with_index_dir(indexes)
}

async fn drain(service: &KnowledgeService) {
    while service.work_once().await.unwrap() {}
}

fn about(animal: &str) -> String {
    format!(
        "The {animal} enclosure opens at nine. Keepers feed the {animal} twice a day and \
         visitors may watch the {animal} feeding from the north gallery."
    )
}

async fn search(
    knowledge: &KnowledgeService,
    org: OrgId,
    kb: KnowledgeBaseId,
    query: &str,
    mode: SearchMode,
) -> Result<Vec<SearchHit>, KnowledgeError> {
    let request = SearchRequest {
        query: query.into(),
        mode,
        top_k: 5,
        min_score: 0.0,
    };
    knowledge.search(org, &[kb], &request).await
}

fn graph_file(indexes: &Path, kb: KnowledgeBaseId) -> std::path::PathBuf {
    indexes.join(format!("{kb}.hnsw"))
}

/// Waits (graphs are saved in the background) until `file` holds a graph of `nodes` nodes
/// with `removed` removed, and returns it.
async fn saved(file: &Path, nodes: usize, removed: usize) -> GraphSnapshot {
    let mut last = None;
    for _ in 0..200 {
        if let Ok(snapshot) = GraphSnapshot::read(file) {
            if (snapshot.len(), snapshot.removed()) == (nodes, removed) {
                return snapshot;
            }
            last = Some((snapshot.len(), snapshot.removed()));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{} holds {last:?}, not ({nodes}, {removed})",
        file.display()
    );
}

#[tokio::test]
async fn a_large_knowledge_base_searches_through_a_graph_rebuilt_from_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let indexes = dir.path().join("indexes");
    let store = open(&dir.path().join("kb.db")).await;
    let org = org(&store).await;
    let knowledge = service(&store, &indexes);
    let kb = knowledge
        .create_knowledge_base(org, "Zoo".into(), String::new())
        .await
        .unwrap();
    let mut documents = Vec::new();
    for animal in ANIMALS {
        let upload = upload(animal, "text/plain", &about(animal));
        documents.push(knowledge.add_document(org, kb.id, upload).await.unwrap());
    }
    drain(&knowledge).await;

    for mode in [SearchMode::Vector, SearchMode::Hybrid] {
        let hits = search(&knowledge, org, kb.id, "when is the walrus fed", mode)
            .await
            .unwrap();
        assert_eq!(hits[0].document_title, "walrus", "{mode:?}");
    }
    let file = graph_file(&indexes, kb.id);
    saved(&file, ANIMALS.len(), 0).await;

    // A document added: only it is inserted into the previous graph.
    let upload = upload("narwhal", "text/plain", &about("narwhal"));
    knowledge.add_document(org, kb.id, upload).await.unwrap();
    drain(&knowledge).await;
    let hits = search(
        &knowledge,
        org,
        kb.id,
        "narwhal feeding",
        SearchMode::Vector,
    )
    .await
    .unwrap();
    assert_eq!(hits[0].document_title, "narwhal");
    saved(&file, ANIMALS.len() + 1, 0).await;

    // A document deleted: its node is removed from the previous graph, not rebuilt from
    // scratch (which would count no removal).
    knowledge
        .delete_document(org, documents[0].id)
        .await
        .unwrap();
    let hits = search(
        &knowledge,
        org,
        kb.id,
        "zebra enclosure",
        SearchMode::Vector,
    )
    .await
    .unwrap();
    assert!(hits.iter().all(|hit| hit.document_title != "zebra"));
    saved(&file, ANIMALS.len(), 1).await;

    // A restart: the graph is rebuilt from the file (a fresh build would count no removal
    // and rewrite it).
    drop(knowledge);
    let restarted = service(&store, &indexes);
    let hits = search(&restarted, org, kb.id, "otter feeding", SearchMode::Vector)
        .await
        .unwrap();
    assert_eq!(hits[0].document_title, "otter");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await; // any save has landed
    saved(&file, ANIMALS.len(), 1).await;

    // A deleted knowledge base takes its file with it.
    restarted.delete_knowledge_base(org, kb.id).await.unwrap();
    assert!(!file.exists());
}

#[tokio::test]
async fn another_tenants_graph_file_returns_none_of_its_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let indexes = dir.path().join("indexes");
    let store = open(&dir.path().join("kb.db")).await;
    let alice = org(&store).await;
    let (_, bob) = store
        .create_user_with_org(
            NewUser {
                email: "bob@example.com".into(),
                name: "Bob".into(),
                password_hash: "-".into(),
            },
            NewOrganization { name: "Bob".into() },
        )
        .await
        .unwrap();
    let knowledge = service(&store, &indexes);
    let mut kbs = Vec::new();
    for (org, prefix) in [(alice, "alice"), (bob.id, "bob")] {
        let kb = knowledge
            .create_knowledge_base(org, prefix.into(), String::new())
            .await
            .unwrap();
        for animal in ANIMALS {
            let title = format!("{prefix} {animal}");
            let upload = upload(&title, "text/plain", &about(animal));
            knowledge.add_document(org, kb.id, upload).await.unwrap();
        }
        kbs.push(kb.id);
    }
    drain(&knowledge).await;
    search(&knowledge, alice, kbs[0], "walrus", SearchMode::Vector)
        .await
        .unwrap();
    saved(&graph_file(&indexes, kbs[0]), ANIMALS.len(), 0).await;
    // Alice's graph saved under Bob's knowledge base, and Bob's first search after a restart.
    std::fs::copy(graph_file(&indexes, kbs[0]), graph_file(&indexes, kbs[1])).unwrap();
    drop(knowledge);
    let restarted = service(&store, &indexes);
    for animal in ANIMALS {
        let hits = search(&restarted, bob.id, kbs[1], animal, SearchMode::Vector)
            .await
            .unwrap();
        assert_eq!(hits[0].document_title, format!("bob {animal}"));
        assert!(
            hits.iter()
                .all(|hit| hit.document_title.starts_with("bob "))
        );
    }
    // Nothing of Alice's graph fit, so Bob's was built from scratch (no removals).
    saved(&graph_file(&indexes, kbs[1]), ANIMALS.len(), 0).await;
    // And Bob cannot search Alice's knowledge base, graph or not.
    let refused = search(&restarted, bob.id, kbs[0], "walrus", SearchMode::Vector).await;
    assert!(matches!(
        refused,
        Err(KnowledgeError::Store(StoreError::NotFound))
    ));
}
