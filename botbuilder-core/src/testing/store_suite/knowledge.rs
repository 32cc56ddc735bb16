//! Store conformance: knowledge bases, documents, chunks and keyword search.

use super::{assert_conflict, assert_not_found, signup};
use crate::domain::PageRequest;
use crate::domain::{
    DocumentSource, DocumentStatus, EmbedderRecord, KnowledgeBasePatch, NewChunk, NewDocument,
    NewKnowledgeBase,
};
use crate::store::Store;

pub(super) fn new_kb(name: &str) -> NewKnowledgeBase {
    NewKnowledgeBase {
        name: name.to_owned(),
        description: String::new(),
        embedding: EmbedderRecord {
            provider: "local".to_owned(),
            model: "local".to_owned(),
            dimensions: 3,
        },
    }
}

pub(super) fn new_doc(title: &str, hash: &str) -> NewDocument {
    NewDocument {
        title: title.to_owned(),
        source: DocumentSource::Text,
        content_type: "text/plain".to_owned(),
        content_hash: hash.to_owned(),
        size_bytes: 42,
        content: format!("# {title}\n\nbody 🤖").into_bytes(),
    }
}

pub(super) fn new_chunk(position: u32, text: &str, embedding: [f32; 3]) -> NewChunk {
    NewChunk {
        position,
        text: text.to_owned(),
        heading_path: vec!["Guide".to_owned(), "Refunds 🤖".to_owned()],
        token_count: 7,
        embedding: embedding.to_vec(),
    }
}

/// Knowledge bases: CRUD within the organization, `NotFound` from any other.
pub async fn knowledge_bases_belong_to_their_organization(store: &dyn Store) {
    let (_, acme) = signup(store, "kb-acme").await;
    let (_, globex) = signup(store, "kb-globex").await;
    let kb = store
        .create_knowledge_base(acme.id, new_kb("Help center"))
        .await
        .unwrap();
    assert_eq!(kb.embedding_dimensions, 3);
    assert_eq!(store.get_knowledge_base(acme.id, kb.id).await.unwrap(), kb);
    let renamed = store
        .update_knowledge_base(
            acme.id,
            kb.id,
            KnowledgeBasePatch {
                name: Some("Docs".into()),
                ..KnowledgeBasePatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Docs");
    assert_eq!(renamed.embedding_model, "local");
    assert_eq!(renamed.embedding_provider, "local");
    let reembedded = store
        .update_knowledge_base(
            acme.id,
            kb.id,
            KnowledgeBasePatch {
                embedding: Some(EmbedderRecord {
                    provider: "openai-compatible".into(),
                    model: "minilm".into(),
                    dimensions: 384,
                }),
                ..KnowledgeBasePatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            reembedded.name.as_str(),
            reembedded.embedding_model.as_str()
        ),
        ("Docs", "minilm")
    );
    assert_eq!(reembedded.embedding_dimensions, 384);
    assert_eq!(reembedded.embedding_provider, "openai-compatible");
    let listed = store
        .list_knowledge_bases(acme.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items, vec![reembedded.clone()]);
    assert!(
        store
            .list_knowledge_bases(globex.id, PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_not_found(store.get_knowledge_base(globex.id, kb.id).await);
    assert_eq!(
        store.locate_knowledge_base(kb.id).await.unwrap().org_id,
        acme.id
    );
    assert_not_found(
        store
            .locate_knowledge_base(crate::id::KnowledgeBaseId::new())
            .await,
    );
    assert_not_found(
        store
            .update_knowledge_base(globex.id, kb.id, KnowledgeBasePatch::default())
            .await,
    );
    assert_not_found(
        store
            .create_document(globex.id, kb.id, new_doc("x", "h"))
            .await,
    );
    assert_not_found(
        store
            .list_documents(globex.id, kb.id, PageRequest::default())
            .await,
    );
    assert_not_found(store.chunk_embeddings(globex.id, kb.id).await);
    assert_not_found(store.delete_knowledge_base(globex.id, kb.id).await);
    store.delete_knowledge_base(acme.id, kb.id).await.unwrap();
    assert_not_found(store.get_knowledge_base(acme.id, kb.id).await);
}

/// Documents: pending → processing → ready with chunks; the same content twice is refused;
/// deleting a document or its knowledge base removes its chunks.
pub async fn documents_move_through_ingestion_and_take_their_chunks_along(store: &dyn Store) {
    let (_, org) = signup(store, "docs").await;
    let (_, other) = signup(store, "docs-other").await;
    let kb = store
        .create_knowledge_base(org.id, new_kb("KB"))
        .await
        .unwrap();
    let second = store
        .create_knowledge_base(org.id, new_kb("KB 2"))
        .await
        .unwrap();
    let doc = store
        .create_document(org.id, kb.id, new_doc("Refunds", "abc"))
        .await
        .unwrap();
    assert_eq!(doc.status, DocumentStatus::Pending);
    assert_eq!(doc.chunk_count, 0);
    assert_eq!(
        store.document_content(org.id, doc.id).await.unwrap(),
        "# Refunds\n\nbody 🤖".as_bytes()
    );
    assert_not_found(store.document_content(other.id, doc.id).await);
    assert_conflict(
        store
            .create_document(org.id, kb.id, new_doc("Again", "abc"))
            .await,
    );
    // Another organization aiming at this knowledge base learns nothing of what it holds.
    assert_not_found(
        store
            .create_document(other.id, kb.id, new_doc("Probe", "abc"))
            .await,
    );
    store
        .create_document(org.id, second.id, new_doc("Same text elsewhere", "abc"))
        .await
        .expect("another knowledge base may hold the same content");
    let working = store
        .set_document_status(org.id, doc.id, DocumentStatus::Processing, 0.5, None)
        .await
        .unwrap();
    assert_eq!(working.status, DocumentStatus::Processing);
    assert!((working.progress - 0.5).abs() < 1e-6);
    assert_not_found(
        store
            .set_document_status(other.id, doc.id, DocumentStatus::Failed, 0.0, None)
            .await,
    );

    let ready = store
        .replace_chunks(
            org.id,
            doc.id,
            vec![
                new_chunk(0, "Refunds take five days.", [1.0, 0.0, 0.0]),
                new_chunk(1, "Shipping is free.", [0.0, 1.0, 0.0]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(ready.status, DocumentStatus::Ready);
    assert_eq!(ready.chunk_count, 2);
    assert!((ready.progress - 1.0).abs() < 1e-6);
    let vectors = store.chunk_embeddings(org.id, kb.id).await.unwrap();
    assert_eq!(vectors.len(), 2);
    let ids: Vec<_> = vectors.iter().map(|(id, _)| *id).collect();
    let reversed: Vec<_> = ids.iter().rev().copied().collect();
    let chunks = store.get_chunks(org.id, &reversed).await.unwrap();
    assert_eq!(
        chunks.iter().map(|c| c.id).collect::<Vec<_>>(),
        reversed,
        "in the order asked for"
    );
    let refund = chunks.iter().find(|c| c.position == 0).unwrap();
    assert_eq!(refund.text, "Refunds take five days.");
    assert_eq!(refund.heading_path, vec!["Guide", "Refunds 🤖"]);
    assert_eq!(refund.document_id, doc.id);
    assert_eq!(refund.kb_id, kb.id);
    let refund_vector = &vectors.iter().find(|(id, _)| *id == refund.id).unwrap().1;
    assert_eq!(refund_vector, &vec![1.0, 0.0, 0.0]);
    let texts = store.chunk_texts(org.id, kb.id).await.unwrap();
    assert_eq!(
        texts.iter().map(|t| t.id).collect::<Vec<_>>(),
        ids,
        "the same chunks in the same order as the vectors"
    );
    let indexed = texts.iter().find(|t| t.id == refund.id).unwrap();
    assert_eq!(indexed.text, "Refunds take five days.");
    assert_eq!(indexed.heading_path, vec!["Guide", "Refunds 🤖"]);
    assert_eq!(indexed.document_id, doc.id);
    assert_eq!(indexed.title, doc.title);
    assert_not_found(store.chunk_texts(other.id, kb.id).await);
    // A renamed document's chunks carry the new title; another organization cannot rename.
    let renamed = store
        .rename_document(org.id, doc.id, "Shop guide 🛒".into())
        .await
        .unwrap();
    assert_eq!(renamed.title, "Shop guide 🛒");
    let texts = store.chunk_texts(org.id, kb.id).await.unwrap();
    assert!(
        texts
            .iter()
            .all(|t| t.document_id != doc.id || t.title == "Shop guide 🛒")
    );
    assert_not_found(store.rename_document(other.id, doc.id, "Mine".into()).await);
    assert!(
        store.get_chunks(other.id, &ids).await.unwrap().is_empty(),
        "another organization sees none"
    );

    // Re-ingesting replaces the chunks.
    let again = store
        .replace_chunks(
            org.id,
            doc.id,
            vec![new_chunk(0, "Refunds take a week.", [1.0, 1.0, 0.0])],
        )
        .await
        .unwrap();
    assert_eq!(again.chunk_count, 1);
    assert_eq!(
        store.chunk_embeddings(org.id, kb.id).await.unwrap().len(),
        1
    );
    assert!(store.get_chunks(org.id, &ids).await.unwrap().is_empty());
    // A document being embedded again keeps its chunks for keyword search, but its vectors
    // (perhaps of the model it is moving away from) leave vector indexes until it is ready.
    store
        .set_document_status(org.id, doc.id, DocumentStatus::Pending, 0.0, None)
        .await
        .unwrap();
    assert!(
        store
            .chunk_embeddings(org.id, kb.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.chunk_texts(org.id, kb.id).await.unwrap().len(), 1);

    assert_not_found(store.delete_document(other.id, doc.id).await);
    store.delete_document(org.id, doc.id).await.unwrap();
    assert!(
        store
            .chunk_embeddings(org.id, kb.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .keyword_search(org.id, &[kb.id], "refunds", 10)
            .await
            .unwrap()
            .is_empty(),
        "a deleted document's chunks are gone from search"
    );
    assert_not_found(store.get_document(org.id, doc.id).await);

    let kept = store
        .create_document(org.id, kb.id, new_doc("Kept", "def"))
        .await
        .unwrap();
    store
        .replace_chunks(
            org.id,
            kept.id,
            vec![new_chunk(0, "Gift cards never expire.", [0.0, 0.0, 1.0])],
        )
        .await
        .unwrap();
    store.delete_knowledge_base(org.id, kb.id).await.unwrap();
    assert_not_found(store.get_document(org.id, kept.id).await);
    assert!(
        store
            .keyword_search(org.id, &[kb.id], "gift cards", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Keyword search ranks the best chunk first and never leaves the given knowledge bases of
/// the organization; any text is a safe query.
pub async fn keyword_search_ranks_within_the_given_knowledge_bases(store: &dyn Store) {
    let (_, org) = signup(store, "search").await;
    let (_, other) = signup(store, "search-other").await;
    let kb = store
        .create_knowledge_base(org.id, new_kb("Policies"))
        .await
        .unwrap();
    let elsewhere = store
        .create_knowledge_base(org.id, new_kb("Elsewhere"))
        .await
        .unwrap();
    let foreign = store
        .create_knowledge_base(other.id, new_kb("Foreign"))
        .await
        .unwrap();
    let texts = [
        "Our refund policy: refunds are paid within five days of the return.",
        "Shipping takes two days inside the country.",
        "Opening hours are nine to five on weekdays.",
        "Gift cards can be used online and in stores.",
    ];
    let doc = store
        .create_document(org.id, kb.id, new_doc("Policies", "p"))
        .await
        .unwrap();
    let chunks = texts
        .iter()
        .enumerate()
        .map(|(i, t)| new_chunk(u32::try_from(i).unwrap(), t, [0.0, 0.0, 1.0]))
        .collect();
    store.replace_chunks(org.id, doc.id, chunks).await.unwrap();
    for (target_org, target_kb) in [(org.id, elsewhere.id), (other.id, foreign.id)] {
        let d = store
            .create_document(target_org, target_kb, new_doc("Copy", "p"))
            .await
            .unwrap();
        store
            .replace_chunks(
                target_org,
                d.id,
                vec![new_chunk(0, texts[0], [1.0, 0.0, 0.0])],
            )
            .await
            .unwrap();
    }

    let hits = store
        .keyword_search(org.id, &[kb.id], "what is the refund policy?", 10)
        .await
        .unwrap();
    assert!(!hits.is_empty());
    assert_eq!(hits[0].chunk.position, 0, "{hits:?}");
    assert!(
        hits.iter()
            .all(|h| h.chunk.kb_id == kb.id && h.chunk.org_id == org.id)
    );
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
    let both = store
        .keyword_search(org.id, &[kb.id, elsewhere.id], "refund policy", 10)
        .await
        .unwrap();
    assert_eq!(
        both.iter().filter(|h| h.chunk.position == 0).count(),
        2,
        "both of the organization's knowledge bases, never the other organization's"
    );
    assert!(
        store
            .keyword_search(org.id, &[foreign.id], "refund policy", 10)
            .await
            .unwrap()
            .is_empty(),
        "another organization's knowledge base matches nothing"
    );
    assert_eq!(
        store
            .keyword_search(org.id, &[kb.id], "refund", 1)
            .await
            .unwrap()
            .len(),
        1,
        "limit"
    );
    for odd in [
        "\"refund",
        "NEAR(refund policy)",
        "refund* OR -x",
        "?!",
        "",
        "مرحبا 🤖",
    ] {
        store
            .keyword_search(org.id, &[kb.id], odd, 5)
            .await
            .unwrap_or_else(|e| panic!("{odd}: {e}"));
    }
    assert!(
        store
            .keyword_search(org.id, &[], "refund", 5)
            .await
            .unwrap()
            .is_empty()
    );
}
