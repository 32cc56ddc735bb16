//! The store conformance suite: one `pub async fn` per clause of the contract documented on
//! [`crate::store`], by area (`accounts`, `bots`, `conversations`, `knowledge`). Backends run
//! every case through [`crate::store_conformance_suite!`]; the case list lives in the macro
//! here, so no backend can drop a case silently.

mod accounts;
mod analytics;
mod bots;
mod changes;
mod channels;
mod conversations;
mod credentials;
mod knowledge;
mod usage;
mod webhook_deliveries;
mod webhooks;

pub use accounts::*;
pub use analytics::*;
pub use bots::*;
pub use changes::*;
pub use channels::*;
pub use conversations::*;
pub use credentials::*;
pub use knowledge::*;
pub use usage::*;
pub use webhook_deliveries::*;
pub use webhooks::*;

use serde_json::json;

use crate::domain::{
    Actor, AiConfig, BotSettings, NewAuditEntry, NewBot, NewOrganization, NewUser, Organization,
    User,
};
use crate::store::{Store, StoreError};

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_owned(),
        name: "Test User".to_owned(),
        password_hash: "$argon2id$fake".to_owned(),
    }
}

fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::now_v7().simple())
}

/// Signs up a fresh user with a fresh organization.
async fn signup(store: &dyn Store, tag: &str) -> (User, Organization) {
    store
        .create_user_with_org(
            new_user(&unique_email(tag)),
            NewOrganization {
                name: format!("{tag} Inc"),
            },
        )
        .await
        .expect("signup")
}

fn new_bot(name: &str) -> NewBot {
    NewBot {
        name: name.to_owned(),
        description: String::new(),
        ai_config: AiConfig::default(),
        settings: BotSettings::default(),
    }
}

fn audit_entry(actor: Actor, action: &str) -> NewAuditEntry {
    NewAuditEntry {
        actor,
        action: action.to_owned(),
        target_type: None,
        target_id: None,
        details: json!({}),
        ip: None,
        request_id: None,
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

/// Expands one `#[tokio::test]` per store contract clause for a backend.
///
/// `$make` is an expression evaluating to a future of `Option<S>` where `S: Store`; `None`
/// skips (printing why) outside CI. Each test gets a fresh store from `$make`.
///
/// ```text
/// botbuilder_core::store_conformance_suite!(async { Some(SqliteStore::in_memory().await.unwrap()) });
/// ```
#[macro_export]
macro_rules! store_conformance_suite {
    ($make:expr) => {
        $crate::__store_cases!($make;
            ping_succeeds,
            configuration_changes_are_recorded_with_what_changed,
            conversations_record_no_change,
            the_change_feed_reads_in_order_and_prunes_without_reusing_positions,
            user_email_is_unique_ignoring_case,
            unknown_user_is_not_found,
            signup_makes_the_user_owner,
            failed_signup_stores_nothing,
            builtin_roles_match_the_matrix,
            create_org_adds_an_owned_org,
            org_delete_cascades,
            bot_round_trips,
            other_tenant_bot_is_not_found,
            bots_page_in_creation_order,
            member_rules,
            other_tenant_member_is_not_found,
            last_owner_is_kept,
            custom_role_lifecycle,
            builtin_roles_are_immutable,
            other_tenant_role_is_not_found,
            api_keys_are_scoped,
            audit_log_filters_and_pages,
            other_tenant_audit_is_invisible,
            refresh_tokens_rotate_once,
            intents_round_trip,
            entities_round_trip,
            other_tenant_nlu_data_is_not_found,
            flows_draft_and_versions,
            other_tenant_flows_are_not_found,
            sessions_resume_and_update_optimistically,
            messages_are_ordered_and_paged,
            sessions_list_by_status,
            turns_complete_atomically,
            knowledge_bases_belong_to_their_organization,
            documents_move_through_ingestion_and_take_their_chunks_along,
            keyword_search_ranks_within_the_given_knowledge_bases,
            feedback_replaces_earlier_feedback,
            other_tenant_conversations_are_not_found,
            provider_credentials_belong_to_their_organization,
            provider_credentials_are_resealed_compare_and_set,
            usage_is_summed_and_outlives_its_bots,
            analytics_count_a_bots_conversations_by_bucket,
            imports_are_all_or_nothing,
            channels_belong_to_their_bot_and_organization,
            replies_to_connected_channels_enter_the_outbox,
            webhook_endpoints_belong_to_their_organization,
            changes_record_webhook_events,
            webhook_deliveries_go_in_order,
            webhook_leases_guard_every_delivery,
            webhook_history_is_pruned,
            webhook_events_can_be_dropped,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_cases {
    ($make:expr; $($case:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            let Some(store) = $make.await else {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{}: backend not configured, and under CI every backend must run",
                    stringify!($case)
                );
                eprintln!("skipped {}: backend not configured", stringify!($case));
                return;
            };
            $crate::testing::store_suite::$case(&store).await;
        }
    )+};
}
