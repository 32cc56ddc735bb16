//! Clauses of the channels repository and its outbox.

use chrono::Duration;
use serde_json::json;

use super::{assert_not_found, new_bot, signup};
use crate::channel::ChannelKind;
use crate::domain::{
    ChannelPatch, ChannelStatus, DeliveryState, MessageDirection, NewChannel, NewMessage,
    NewSession, SealedSecret, SessionStatus,
};
use crate::id::ChannelId;
use crate::store::{DeliveryUpdate, Store};

pub(super) fn new_channel(kind: ChannelKind, tag: u8) -> NewChannel {
    NewChannel {
        id: ChannelId::new(),
        kind,
        name: format!("channel {tag}"),
        settings: json!({ "api_base_url": "http://127.0.0.1:9/" }),
        secrets: SealedSecret {
            key_id: "k1".to_owned(),
            nonce: vec![tag; 12],
            ciphertext: vec![tag, 9, 9],
        },
        status: ChannelStatus::Connected,
    }
}

/// Channels round-trip within their organization and bot; another organization sees none
/// of them and cannot connect one to a bot it does not own; patches change only what they
/// name; deleting disconnects.
pub async fn channels_belong_to_their_bot_and_organization(store: &dyn Store) {
    let (_, org) = signup(store, "chan").await;
    let (_, other) = signup(store, "chan-other").await;
    let bot = store.create_bot(org.id, new_bot("B")).await.unwrap();
    let second = store.create_bot(org.id, new_bot("B2")).await.unwrap();
    let new = new_channel(ChannelKind::Telegram, 1);
    let created = store
        .create_channel(org.id, bot.id, new.clone())
        .await
        .unwrap();
    assert_eq!(
        (created.id, created.kind, created.bot_id),
        (new.id, new.kind, bot.id)
    );
    assert_eq!(created.secrets, new.secrets);
    assert_eq!(created.settings, new.settings);
    assert_eq!(created.session_channel(), format!("telegram:{}", new.id));
    assert_eq!(
        store.get_channel(org.id, created.id).await.unwrap(),
        created
    );
    assert_eq!(store.locate_channel(created.id).await.unwrap(), created);
    store
        .create_channel(org.id, second.id, new_channel(ChannelKind::Slack, 2))
        .await
        .unwrap();
    let listed = store.list_channels(org.id, bot.id).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&created));
    assert!(store.all_channels().await.unwrap().len() >= 2);

    assert_not_found(store.get_channel(other.id, created.id).await);
    assert!(
        store
            .list_channels(other.id, bot.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(
        store
            .create_channel(other.id, bot.id, new_channel(ChannelKind::Slack, 3))
            .await,
    );
    assert_not_found(
        store
            .update_channel(other.id, created.id, ChannelPatch::default())
            .await,
    );
    assert_not_found(store.delete_channel(other.id, created.id).await);

    let at = created.created_at + Duration::seconds(5);
    let patched = store
        .update_channel(
            org.id,
            created.id,
            ChannelPatch {
                status: Some(ChannelStatus::Error),
                last_error: Some(Some("401 Unauthorized".to_owned())),
                inbound_at: Some(at),
                ..ChannelPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.status, ChannelStatus::Error);
    assert_eq!(patched.last_error.as_deref(), Some("401 Unauthorized"));
    assert_eq!(patched.last_inbound_at, Some(at));
    assert_eq!(
        (patched.name.as_str(), &patched.secrets),
        (created.name.as_str(), &created.secrets)
    );
    let cleared = store
        .update_channel(
            org.id,
            created.id,
            ChannelPatch {
                status: Some(ChannelStatus::Connected),
                last_error: Some(None),
                outbound_at: Some(at),
                ..ChannelPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            cleared.last_error,
            cleared.last_inbound_at,
            cleared.last_outbound_at
        ),
        (None, Some(at), Some(at))
    );

    store.delete_channel(org.id, created.id).await.unwrap();
    assert_not_found(store.locate_channel(created.id).await);
    assert_not_found(store.delete_channel(org.id, created.id).await);

    // Deleting a bot, or its organization, disconnects its channels.
    let on_second = store.list_channels(org.id, second.id).await.unwrap();
    store.delete_bot(org.id, second.id).await.unwrap();
    assert_not_found(store.locate_channel(on_second[0].id).await);
    let third = store.create_bot(org.id, new_bot("B3")).await.unwrap();
    let on_third = store
        .create_channel(org.id, third.id, new_channel(ChannelKind::WhatsApp, 4))
        .await
        .unwrap();
    store.delete_org(org.id).await.unwrap();
    assert_not_found(store.locate_channel(on_third.id).await);
}

/// Every reply (bot or agent) stored in a connected channel's session gets a pending
/// delivery in the same write, in message order; user messages and other channels' sessions
/// get none; progress is recorded; a sent part is found again by its platform id; deleting
/// the channel deletes its outbox.
pub async fn replies_to_connected_channels_enter_the_outbox(store: &dyn Store) {
    let (_, org) = signup(store, "outbox").await;
    let (_, other) = signup(store, "outbox-other").await;
    let bot = store.create_bot(org.id, new_bot("B")).await.unwrap();
    let channel = store
        .create_channel(org.id, bot.id, new_channel(ChannelKind::Telegram, 1))
        .await
        .unwrap();
    let session = store
        .create_session(
            org.id,
            bot.id,
            NewSession {
                channel: channel.session_channel(),
                external_user: "1111".to_owned(),
                flow_version: None,
            },
        )
        .await
        .unwrap();
    let web = store
        .create_session(
            org.id,
            bot.id,
            NewSession {
                channel: "web".to_owned(),
                external_user: "visitor".to_owned(),
                flow_version: None,
            },
        )
        .await
        .unwrap();
    store
        .append_message(
            org.id,
            session.id,
            NewMessage::text(MessageDirection::Inbound, "hi"),
        )
        .await
        .unwrap();
    let (_, replies) = store
        .complete_turn(
            org.id,
            session.id,
            session.revision,
            vec![
                NewMessage::text(MessageDirection::Outbound, "one"),
                NewMessage::text(MessageDirection::Outbound, "two"),
            ],
            SessionStatus::Handoff,
            session.state.clone(),
        )
        .await
        .unwrap();
    store
        .complete_turn(
            org.id,
            web.id,
            web.revision,
            vec![NewMessage::text(MessageDirection::Outbound, "web")],
            SessionStatus::Active,
            web.state.clone(),
        )
        .await
        .unwrap();
    let agent = store
        .append_message(
            org.id,
            session.id,
            NewMessage::text(MessageDirection::Agent, "a person"),
        )
        .await
        .unwrap();

    let pending = store.pending_deliveries(org.id, session.id).await.unwrap();
    let ids: Vec<_> = pending.iter().map(|d| d.message_id).collect();
    assert_eq!(ids, [replies[0].id, replies[1].id, agent.id]);
    assert!(
        pending
            .iter()
            .all(|d| d.state == DeliveryState::Pending && d.channel_id == channel.id)
    );
    assert!(
        store
            .pending_deliveries(org.id, web.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .pending_deliveries(other.id, session.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(store.get_delivery(other.id, replies[0].id).await);

    let later = agent.created_at + Duration::seconds(1);
    let waiting = store
        .sessions_with_pending_deliveries(later, 100)
        .await
        .unwrap();
    assert!(waiting.contains(&(org.id, session.id)));
    assert!(!waiting.iter().any(|(_, s)| *s == web.id));
    let early = store
        .sessions_with_pending_deliveries(replies[0].created_at, 100)
        .await
        .unwrap();
    assert!(
        !early.iter().any(|(_, s)| *s == session.id),
        "only deliveries older than `before`"
    );

    let first = replies[0].id;
    store
        .update_delivery(
            org.id,
            first,
            DeliveryUpdate::AttemptFailed {
                error: "429".into(),
            },
        )
        .await
        .unwrap();
    store
        .update_delivery(
            org.id,
            first,
            DeliveryUpdate::PartSent {
                external_id: Some("41".into()),
            },
        )
        .await
        .unwrap();
    store
        .update_delivery(
            org.id,
            first,
            DeliveryUpdate::PartSent { external_id: None },
        )
        .await
        .unwrap();
    let sent = store
        .update_delivery(org.id, first, DeliveryUpdate::Sent)
        .await
        .unwrap();
    assert_eq!(
        (sent.state, sent.parts_sent, sent.attempts),
        (DeliveryState::Sent, 2, 1)
    );
    assert_eq!(sent.external_ids, ["41"]);
    assert_eq!(sent.last_error.as_deref(), Some("429"));
    assert!(sent.sent_at.is_some());
    assert_eq!(
        store
            .find_delivery(channel.id, "41")
            .await
            .unwrap()
            .message_id,
        first
    );
    assert_not_found(store.find_delivery(channel.id, "42").await);
    let read = store
        .update_delivery(
            org.id,
            first,
            DeliveryUpdate::PlatformStatus {
                status: "read".into(),
                error: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(read.platform_status.as_deref(), Some("read"));
    let failed = store
        .update_delivery(
            org.id,
            replies[1].id,
            DeliveryUpdate::Failed {
                error: "blocked".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.state, DeliveryState::Failed);
    let skipped = store
        .update_delivery(
            org.id,
            agent.id,
            DeliveryUpdate::Skipped {
                reason: "window".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (skipped.state, skipped.last_error.as_deref()),
        (DeliveryState::Skipped, Some("window"))
    );
    assert!(
        store
            .pending_deliveries(org.id, session.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(
        store
            .update_delivery(other.id, first, DeliveryUpdate::Sent)
            .await,
    );

    store.delete_channel(org.id, channel.id).await.unwrap();
    assert_not_found(store.get_delivery(org.id, first).await);
    assert_not_found(store.find_delivery(channel.id, "41").await);
}
