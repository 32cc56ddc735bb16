//! Store conformance: bots' intents, entities and flows.

use serde_json::json;

use super::{assert_conflict, assert_not_found, new_bot, signup};
use crate::domain::{EntityPatch, IntentPatch, NewEntity, NewIntent};
use crate::flow::Flow;
use crate::id::BotId;
use crate::nlu::{BuiltinEntity, EntityKind, LookupValue};
use crate::store::Store;

pub(super) fn lookup_kind() -> EntityKind {
    EntityKind::Lookup {
        values: vec![LookupValue {
            value: "large".into(),
            synonyms: vec!["big".into(), "XL".into()],
        }],
    }
}

/// Intents round-trip, names are unique per bot, and a missing bot is `NotFound`.
pub async fn intents_round_trip(store: &dyn Store) {
    let (_, org) = signup(store, "intents").await;
    let bot = store.create_bot(org.id, new_bot("nlu")).await.unwrap();
    let other_bot = store.create_bot(org.id, new_bot("other")).await.unwrap();
    let new = |name: &str| NewIntent {
        name: name.into(),
        examples: vec!["where is my order".into(), "track 📦 «parcel»".into()],
    };
    let intent = store
        .create_intent(org.id, bot.id, new("track"))
        .await
        .unwrap();
    assert_eq!(intent.bot_id, bot.id);
    assert_eq!(
        store.get_intent(org.id, bot.id, intent.id).await.unwrap(),
        intent
    );
    assert_conflict(store.create_intent(org.id, bot.id, new("track")).await);
    store
        .create_intent(org.id, other_bot.id, new("track"))
        .await
        .unwrap();
    let refund = store
        .create_intent(org.id, bot.id, new("refund"))
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_intents(org.id, bot.id)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, vec!["track", "refund"]);
    assert_not_found(store.get_intent(org.id, other_bot.id, intent.id).await);
    let patched = store
        .update_intent(
            org.id,
            bot.id,
            intent.id,
            IntentPatch {
                examples: Some(vec!["where's my stuff".into()]),
                ..IntentPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.examples, vec!["where's my stuff".to_owned()]);
    assert_eq!(patched.name, "track");
    let rename = IntentPatch {
        name: Some("refund".into()),
        ..IntentPatch::default()
    };
    assert_conflict(store.update_intent(org.id, bot.id, intent.id, rename).await);
    store
        .delete_intent(org.id, bot.id, refund.id)
        .await
        .unwrap();
    assert_not_found(store.get_intent(org.id, bot.id, refund.id).await);
    assert_not_found(store.delete_intent(org.id, bot.id, refund.id).await);
    assert_not_found(store.create_intent(org.id, BotId::new(), new("x")).await);
    assert_not_found(store.list_intents(org.id, BotId::new()).await);
}

/// Entity definitions round-trip with their recognition rule.
pub async fn entities_round_trip(store: &dyn Store) {
    let (_, org) = signup(store, "entities").await;
    let bot = store.create_bot(org.id, new_bot("nlu")).await.unwrap();
    let entity = store
        .create_entity(
            org.id,
            bot.id,
            NewEntity {
                name: "size".into(),
                kind: lookup_kind(),
            },
        )
        .await
        .unwrap();
    assert_eq!(entity.kind, lookup_kind());
    assert_eq!(
        store.get_entity(org.id, bot.id, entity.id).await.unwrap(),
        entity
    );
    let dup = NewEntity {
        name: "size".into(),
        kind: lookup_kind(),
    };
    assert_conflict(store.create_entity(org.id, bot.id, dup).await);
    let email = EntityKind::Builtin {
        builtin: BuiltinEntity::Email,
    };
    let patched = store
        .update_entity(
            org.id,
            bot.id,
            entity.id,
            EntityPatch {
                kind: Some(email.clone()),
                ..EntityPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.kind, email);
    assert_eq!(
        store.list_entities(org.id, bot.id).await.unwrap(),
        vec![patched]
    );
    store
        .delete_entity(org.id, bot.id, entity.id)
        .await
        .unwrap();
    assert_not_found(store.get_entity(org.id, bot.id, entity.id).await);
}

/// Another organization's intents and entities are `NotFound`; deleting a bot removes them.
pub async fn other_tenant_nlu_data_is_not_found(store: &dyn Store) {
    let (_, acme) = signup(store, "acme-n").await;
    let (_, globex) = signup(store, "globex-n").await;
    let bot = store.create_bot(acme.id, new_bot("secret")).await.unwrap();
    let intent = store
        .create_intent(
            acme.id,
            bot.id,
            NewIntent {
                name: "secret".into(),
                examples: vec!["x".into()],
            },
        )
        .await
        .unwrap();
    let entity = store
        .create_entity(
            acme.id,
            bot.id,
            NewEntity {
                name: "secret".into(),
                kind: lookup_kind(),
            },
        )
        .await
        .unwrap();
    assert_not_found(store.list_intents(globex.id, bot.id).await);
    assert_not_found(store.get_intent(globex.id, bot.id, intent.id).await);
    assert_not_found(
        store
            .update_intent(globex.id, bot.id, intent.id, IntentPatch::default())
            .await,
    );
    assert_not_found(store.delete_intent(globex.id, bot.id, intent.id).await);
    let new = NewIntent {
        name: "planted".into(),
        examples: vec![],
    };
    assert_not_found(store.create_intent(globex.id, bot.id, new).await);
    // A name the other tenant's bot already has says nothing either: not found, not conflict.
    let taken = NewIntent {
        name: "secret".into(),
        examples: vec![],
    };
    assert_not_found(store.create_intent(globex.id, bot.id, taken).await);
    let taken = NewEntity {
        name: "secret".into(),
        kind: lookup_kind(),
    };
    assert_not_found(store.create_entity(globex.id, bot.id, taken).await);
    assert_not_found(store.list_entities(globex.id, bot.id).await);
    assert_not_found(store.get_entity(globex.id, bot.id, entity.id).await);
    assert_not_found(store.delete_entity(globex.id, bot.id, entity.id).await);

    store.delete_bot(acme.id, bot.id).await.unwrap();
    assert_not_found(store.get_intent(acme.id, bot.id, intent.id).await);
    assert_not_found(store.get_entity(acme.id, bot.id, entity.id).await);
}

pub(super) fn tiny_flow(text: &str) -> Flow {
    Flow::parse(json!({
        "nodes": [
            { "id": "start", "type": "start", "data": {} },
            { "id": "say", "type": "message", "data": { "text": text } }
        ],
        "edges": [{ "id": "e1", "source": "start", "target": "say" }]
    }))
    .expect("valid flow")
}

/// Drafts are replaced; publications get increasing, immutable version numbers.
pub async fn flows_draft_and_versions(store: &dyn Store) {
    let (_, org) = signup(store, "flows").await;
    let bot = store.create_bot(org.id, new_bot("flows")).await.unwrap();
    assert_eq!(store.get_flow_draft(org.id, bot.id).await.unwrap(), None);
    assert_eq!(
        store.latest_flow_version(org.id, bot.id).await.unwrap(),
        None
    );
    let draft = store
        .save_flow_draft(org.id, bot.id, tiny_flow("v1 ✓"))
        .await
        .unwrap();
    assert_eq!(
        store.get_flow_draft(org.id, bot.id).await.unwrap(),
        Some(draft)
    );
    let first = store
        .publish_flow(org.id, bot.id, tiny_flow("v1 ✓"))
        .await
        .unwrap();
    assert_eq!(first.version, 1);
    store
        .save_flow_draft(org.id, bot.id, tiny_flow("v2"))
        .await
        .unwrap();
    let second = store
        .publish_flow(org.id, bot.id, tiny_flow("v2"))
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(
        store.get_flow_version(org.id, bot.id, 1).await.unwrap(),
        first
    );
    assert_eq!(
        store.latest_flow_version(org.id, bot.id).await.unwrap(),
        Some(second)
    );
    assert_not_found(store.get_flow_version(org.id, bot.id, 3).await);
    let other = store.create_bot(org.id, new_bot("other")).await.unwrap();
    assert_eq!(
        store
            .publish_flow(org.id, other.id, tiny_flow("o"))
            .await
            .unwrap()
            .version,
        1
    );
}

/// Another organization's flows are `NotFound`; deleting the bot removes them.
pub async fn other_tenant_flows_are_not_found(store: &dyn Store) {
    let (_, acme) = signup(store, "acme-f").await;
    let (_, globex) = signup(store, "globex-f").await;
    let bot = store.create_bot(acme.id, new_bot("secret")).await.unwrap();
    store
        .save_flow_draft(acme.id, bot.id, tiny_flow("secret"))
        .await
        .unwrap();
    store
        .publish_flow(acme.id, bot.id, tiny_flow("secret"))
        .await
        .unwrap();
    assert_not_found(store.get_flow_draft(globex.id, bot.id).await);
    assert_not_found(
        store
            .save_flow_draft(globex.id, bot.id, tiny_flow("x"))
            .await,
    );
    assert_not_found(store.publish_flow(globex.id, bot.id, tiny_flow("x")).await);
    assert_not_found(store.get_flow_version(globex.id, bot.id, 1).await);
    assert_not_found(store.latest_flow_version(globex.id, bot.id).await);
    store.delete_bot(acme.id, bot.id).await.unwrap();
    assert_not_found(store.get_flow_draft(acme.id, bot.id).await);
}

/// An import stores the bot, its NLU data and its flow together, or nothing.
pub async fn imports_are_all_or_nothing(store: &dyn Store) {
    use crate::domain::{BotImport, PageRequest};
    use crate::store::StoreError;
    let (_, org) = signup(store, "import").await;
    let flow = Flow::parse(json!({
        "nodes": [{ "id": "start", "type": "start", "data": {} }], "edges": []
    }))
    .unwrap();
    let import = |intents: Vec<&str>| BotImport {
        bot: new_bot("imported"),
        intents: intents
            .into_iter()
            .map(|name| NewIntent {
                name: name.to_owned(),
                examples: vec![format!("{name} example")],
            })
            .collect(),
        entities: vec![NewEntity {
            name: "email".into(),
            kind: EntityKind::Builtin {
                builtin: BuiltinEntity::Email,
            },
        }],
        flow: Some(flow.clone()),
    };
    let bot = store
        .import_bot(org.id, import(vec!["greet", "bye"]))
        .await
        .unwrap();
    assert_eq!(store.list_intents(org.id, bot.id).await.unwrap().len(), 2);
    assert_eq!(store.list_entities(org.id, bot.id).await.unwrap().len(), 1);
    let version = store
        .latest_flow_version(org.id, bot.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(version.version, 1);
    assert!(
        store
            .get_flow_draft(org.id, bot.id)
            .await
            .unwrap()
            .is_some()
    );

    let before = store
        .list_bots(org.id, PageRequest::default())
        .await
        .unwrap()
        .items
        .len();
    let clash = store
        .import_bot(org.id, import(vec!["greet", "greet"]))
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    let after = store
        .list_bots(org.id, PageRequest::default())
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(after, before, "nothing of a failed import is stored");
}
