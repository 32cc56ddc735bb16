//! Clauses of the change feed ([`crate::store::ChangeRepo`]).

use chrono::Duration;

use super::bots::{lookup_kind, tiny_flow};
use super::channels::new_channel;
use super::credentials::credential;
use super::knowledge::{new_chunk, new_doc, new_kb};
use super::{new_bot, new_user, signup, unique_email};
use crate::channel::ChannelKind;
use crate::domain::PermissionSet;
use crate::domain::{
    BotPatch, Change, ChannelPatch, DocumentStatus, EntityPatch, IntentPatch, KnowledgeBasePatch,
    MessageDirection, NewApiKey, NewEntity, NewIntent, NewMessage, NewRole, NewSession,
    OrganizationPatch, Rating, RolePatch, SessionState, SessionStatus,
};
use crate::id::OrgId;
use crate::store::Store;

/// The changes of `org` recorded since `cursor`, which moves past them.
async fn recorded(store: &dyn Store, org: OrgId, cursor: &mut u64) -> Vec<Change> {
    let records = store.changes_after(*cursor, 10_000).await.unwrap();
    if let Some(last) = records.last() {
        *cursor = last.seq;
    }
    records
        .into_iter()
        .map(|r| r.change)
        .filter(|c| c.org() == org)
        .collect()
}

/// Every configuration write records the change that names what it made stale, and writes
/// that change nothing cached (creating a bot, a draft, a progress update) record nothing.
pub async fn configuration_changes_are_recorded_with_what_changed(store: &dyn Store) {
    let (_, org) = signup(store, "changes").await;
    let o = org.id;
    let mut at = store.last_change_seq().await.unwrap();
    let mut expect = async |changes: &[Change], step: &str| {
        assert_eq!(recorded(store, o, &mut at).await, changes, "{step}");
    };

    let bot = store.create_bot(o, new_bot("B")).await.unwrap();
    expect(&[], "creating a bot").await;
    let b = Change::Bot {
        org: o,
        bot: bot.id,
    };
    let patch = BotPatch {
        name: Some("B2".into()),
        ..Default::default()
    };
    store.update_bot(o, bot.id, patch).await.unwrap();
    expect(&[b], "updating a bot").await;
    let intent = NewIntent {
        name: "greet".into(),
        examples: vec!["hi".into()],
    };
    let intent = store.create_intent(o, bot.id, intent).await.unwrap();
    let patch = IntentPatch {
        examples: Some(vec!["hello".into()]),
        ..Default::default()
    };
    store
        .update_intent(o, bot.id, intent.id, patch)
        .await
        .unwrap();
    store.delete_intent(o, bot.id, intent.id).await.unwrap();
    expect(&[b, b, b], "an intent's life").await;
    let entity = NewEntity {
        name: "size".into(),
        kind: lookup_kind(),
    };
    let entity = store.create_entity(o, bot.id, entity).await.unwrap();
    let patch = EntityPatch {
        name: Some("sizes".into()),
        ..Default::default()
    };
    store
        .update_entity(o, bot.id, entity.id, patch)
        .await
        .unwrap();
    store.delete_entity(o, bot.id, entity.id).await.unwrap();
    expect(&[b, b, b], "an entity's life").await;
    store
        .save_flow_draft(o, bot.id, tiny_flow("draft"))
        .await
        .unwrap();
    expect(&[], "saving a draft").await;
    store
        .publish_flow(o, bot.id, tiny_flow("v1"))
        .await
        .unwrap();
    expect(&[b], "publishing a flow").await;
    let patch = OrganizationPatch {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    store.update_org(o, patch).await.unwrap();
    expect(
        &[Change::Organization { org: o }],
        "updating the organization",
    )
    .await;

    let access = Change::Access { org: o };
    let role = NewRole {
        name: "auditor".into(),
        description: String::new(),
        permissions: PermissionSet::empty(),
    };
    let role = store.create_role(o, role).await.unwrap();
    let joiner = store
        .create_user(new_user(&unique_email("joiner")))
        .await
        .unwrap();
    store.add_member(o, joiner.id, role.id).await.unwrap();
    expect(&[], "creating a role and adding a member").await;
    let patch = RolePatch {
        description: Some("reads".into()),
        ..Default::default()
    };
    store.update_role(o, role.id, patch).await.unwrap();
    let viewer = store.find_role_by_name(o, "viewer").await.unwrap();
    store
        .update_member_role(o, joiner.id, viewer.id)
        .await
        .unwrap();
    store.remove_member(o, joiner.id).await.unwrap();
    store.delete_role(o, role.id).await.unwrap();
    expect(&[access; 4], "role and membership changes").await;
    let key = NewApiKey {
        name: "ci".into(),
        prefix: "bb_test".into(),
        key_hash: vec![7; 32],
        permissions: PermissionSet::empty(),
        created_by: None,
        expires_at: None,
    };
    let key = store.create_api_key(o, key).await.unwrap();
    expect(&[], "creating an API key").await;
    store.delete_api_key(o, key.id).await.unwrap();
    expect(&[access], "deleting an API key").await;

    let kb = store.create_knowledge_base(o, new_kb("KB")).await.unwrap();
    let doc = store
        .create_document(o, kb.id, new_doc("Guide", "h1"))
        .await
        .unwrap();
    expect(&[], "creating a knowledge base and a document").await;
    let k = Change::KnowledgeBase { org: o, kb: kb.id };
    let d = Change::Document {
        org: o,
        kb: kb.id,
        doc: doc.id,
    };
    let patch = KnowledgeBasePatch {
        description: Some("all of it".into()),
        ..Default::default()
    };
    store.update_knowledge_base(o, kb.id, patch).await.unwrap();
    expect(&[k], "updating a knowledge base").await;
    let status = async |status: DocumentStatus, progress: f32| {
        let set = store.set_document_status(o, doc.id, status, progress, None);
        set.await.unwrap();
    };
    status(DocumentStatus::Processing, 0.1).await;
    status(DocumentStatus::Processing, 0.5).await;
    expect(&[], "ingestion under way: not searchable before or after").await;
    let chunks = vec![new_chunk(0, "refunds take 5 days", [1.0, 0.0, 0.0])];
    store.replace_chunks(o, doc.id, chunks).await.unwrap();
    expect(&[d], "chunks in place (the document is ready)").await;
    status(DocumentStatus::Pending, 0.0).await;
    status(DocumentStatus::Processing, 0.2).await;
    expect(&[d], "re-ingestion takes it out of search, once").await;
    let chunks = vec![new_chunk(0, "refunds take 3 days", [1.0, 0.0, 0.0])];
    store.replace_chunks(o, doc.id, chunks).await.unwrap();
    expect(&[d], "and back").await;
    store
        .rename_document(o, doc.id, "Handbook".into())
        .await
        .unwrap();
    store
        .rename_document(o, doc.id, "Handbook".into())
        .await
        .unwrap();
    expect(&[d], "a rename, then the same title again").await;
    store.delete_document(o, doc.id).await.unwrap();
    expect(&[d], "deleting a document").await;
    store.delete_knowledge_base(o, kb.id).await.unwrap();
    expect(&[k], "deleting an empty knowledge base").await;

    let creds = Change::Credentials { org: o };
    store
        .put_provider_credential(o, credential("openai", 1))
        .await
        .unwrap();
    store
        .put_provider_credential(o, credential("openai", 2))
        .await
        .unwrap();
    store.delete_provider_credential(o, "openai").await.unwrap();
    expect(&[creds; 3], "storing, replacing and deleting credentials").await;

    let channel = store
        .create_channel(o, bot.id, new_channel(ChannelKind::Telegram, 1))
        .await
        .unwrap();
    let activity = ChannelPatch {
        inbound_at: Some(chrono::Utc::now()),
        last_error: Some(Some("timeout".into())),
        ..Default::default()
    };
    store.update_channel(o, channel.id, activity).await.unwrap();
    expect(&[], "connecting a channel, then activity on it").await;
    let c = Change::Channel {
        org: o,
        channel: channel.id,
    };
    let patch = ChannelPatch {
        name: Some("support".into()),
        ..Default::default()
    };
    store.update_channel(o, channel.id, patch).await.unwrap();
    store.delete_channel(o, channel.id).await.unwrap();
    expect(&[c, c], "renaming and deleting a channel").await;

    // Deletions that take things along may record those too.
    store.delete_bot(o, bot.id).await.unwrap();
    assert!(
        recorded(store, o, &mut at).await.contains(&b),
        "deleting a bot"
    );
    store.delete_org(o).await.unwrap();
    let gone = recorded(store, o, &mut at).await;
    assert!(
        gone.contains(&Change::Organization { org: o }),
        "deleting the organization"
    );
}

/// Conversations (sessions, messages, feedback, usage) are not configuration: a whole turn
/// records no change.
pub async fn conversations_record_no_change(store: &dyn Store) {
    let (_, org) = signup(store, "quiet").await;
    let bot = store.create_bot(org.id, new_bot("B")).await.unwrap();
    let mut at = store.last_change_seq().await.unwrap();
    let new = NewSession {
        channel: "web".into(),
        external_user: "visitor".into(),
        flow_version: None,
    };
    let session = store.create_session(org.id, bot.id, new).await.unwrap();
    for direction in [MessageDirection::Inbound, MessageDirection::Outbound] {
        let mut message = NewMessage::text(direction, "hello");
        if direction == MessageDirection::Outbound {
            message.llm = Some(crate::domain::LlmCall {
                provider: "local".into(),
                model: "local".into(),
                prompt_tokens: 10,
                completion_tokens: 5,
                cost_micros: 3,
                estimated: false,
            });
        }
        let stored = store
            .append_message(org.id, session.id, message)
            .await
            .unwrap();
        if direction == MessageDirection::Outbound {
            store
                .set_feedback(org.id, stored.id, Rating::Up, None)
                .await
                .unwrap();
        }
    }
    store
        .update_session(
            org.id,
            session.id,
            session.revision,
            SessionStatus::Handoff,
            SessionState::default(),
        )
        .await
        .unwrap();
    assert_eq!(recorded(store, org.id, &mut at).await, []);
}

/// The feed reads oldest first from a position, a batch at a time; pruning drops old changes
/// but never reuses a position.
pub async fn the_change_feed_reads_in_order_and_prunes_without_reusing_positions(
    store: &dyn Store,
) {
    let (_, org) = signup(store, "feed").await;
    let start = store.last_change_seq().await.unwrap();
    for i in 0..5 {
        let patch = OrganizationPatch {
            name: Some(format!("name {i}")),
            ..Default::default()
        };
        store.update_org(org.id, patch).await.unwrap();
    }
    let first = store.changes_after(start, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let rest = store.changes_after(first[1].seq, 100).await.unwrap();
    assert_eq!(rest.len(), 3);
    let seqs: Vec<u64> = first.iter().chain(&rest).map(|r| r.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(seqs[0] > start);
    let last = store.last_change_seq().await.unwrap();
    assert_eq!(last, *seqs.last().unwrap());

    let now = chrono::Utc::now();
    assert!(first[0].at > now - Duration::minutes(5) && first[0].at <= now + Duration::minutes(5));
    assert_eq!(
        store.prune_changes(now - Duration::hours(1)).await.unwrap(),
        0
    );
    assert!(store.prune_changes(now + Duration::hours(1)).await.unwrap() >= 5);
    assert!(store.changes_after(start, 100).await.unwrap().is_empty());
    assert_eq!(store.last_change_seq().await.unwrap(), last);
    store
        .update_org(org.id, OrganizationPatch::default())
        .await
        .unwrap();
    let next = store.changes_after(last, 100).await.unwrap();
    assert_eq!(next.len(), 1);
    assert!(next[0].seq > last);
}
