//! Typed identifiers.
//!
//! Every entity has its own id newtype over a UUIDv7 (time-ordered, so ids sort by creation
//! time and index well). Distinct types stop a `BotId` from being passed where an `OrgId` is
//! expected, which is the first line of tenant isolation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (for example one read from storage).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

define_id!(
    /// Identifies an organization (the tenant).
    OrgId
);
define_id!(
    /// Identifies a user account.
    UserId
);
define_id!(
    /// Identifies a role (built-in or custom) within an organization.
    RoleId
);
define_id!(
    /// Identifies an API key.
    ApiKeyId
);
define_id!(
    /// Identifies a bot.
    BotId
);
define_id!(
    /// Identifies an intent of a bot.
    IntentId
);
define_id!(
    /// Identifies an entity definition of a bot.
    EntityId
);
define_id!(
    /// Identifies a conversation session.
    SessionId
);
define_id!(
    /// Identifies a message of a conversation.
    MessageId
);
define_id!(
    /// Identifies a feedback rating.
    FeedbackId
);
define_id!(
    /// Identifies a knowledge base.
    KnowledgeBaseId
);
define_id!(
    /// Identifies a document of a knowledge base.
    DocumentId
);
define_id!(
    /// Identifies a chunk of a document.
    ChunkId
);
define_id!(
    /// Identifies a connected messaging channel (a Telegram bot, a WhatsApp number, a Slack
    /// app) of a bot.
    ChannelId
);
define_id!(
    /// Identifies a customer's webhook endpoint.
    WebhookId
);
define_id!(
    /// Identifies the delivery of one event to one webhook endpoint.
    WebhookDeliveryId
);
define_id!(
    /// Identifies an audit log entry.
    AuditId
);
define_id!(
    /// Identifies a refresh token.
    RefreshTokenId
);
define_id!(
    /// Identifies a refresh token family (all tokens rotated from one login).
    TokenFamilyId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings_and_json() {
        let id = BotId::new();
        let parsed: BotId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<BotId>(&json).unwrap(), id);
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = OrgId::new();
        let b = OrgId::new();
        assert!(a < b);
    }
}
