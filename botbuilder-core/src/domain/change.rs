//! Changes to configuration that caches hold: what the change feed records (see
//! [`crate::store::ChangeRepo`]) and the change bus delivers (see [`crate::change`]).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::id::{BotId, ChannelId, DocumentId, KnowledgeBaseId, OrgId};

/// What changed. Each variant names the smallest thing a cache must forget.
///
/// Conversation data (sessions, messages, feedback) and chunks are not configuration: writing
/// them records no change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// The organization's settings changed, or it was deleted: forget everything of it.
    Organization {
        /// The organization.
        org: OrgId,
    },
    /// A membership, a role or an API key changed or went away: forget the organization's
    /// access decisions.
    Access {
        /// The organization.
        org: OrgId,
    },
    /// The bot, its intents or entities, or its published flow changed, or it was deleted.
    Bot {
        /// The bot's organization.
        org: OrgId,
        /// The bot.
        bot: BotId,
    },
    /// A knowledge base's settings (its embedder) changed, or it was deleted.
    KnowledgeBase {
        /// The knowledge base's organization.
        org: OrgId,
        /// The knowledge base.
        kb: KnowledgeBaseId,
    },
    /// A document entered search (became `ready`, its chunks in place) or left it, its title
    /// changed, or it was deleted.
    Document {
        /// The document's organization.
        org: OrgId,
        /// Its knowledge base.
        kb: KnowledgeBaseId,
        /// The document.
        doc: DocumentId,
    },
    /// The organization's provider credentials changed.
    Credentials {
        /// The organization.
        org: OrgId,
    },
    /// A channel changed or was deleted.
    Channel {
        /// The channel's organization.
        org: OrgId,
        /// The channel.
        channel: ChannelId,
    },
}

impl Change {
    /// The organization the change belongs to.
    pub fn org(&self) -> OrgId {
        match *self {
            Change::Organization { org }
            | Change::Access { org }
            | Change::Bot { org, .. }
            | Change::KnowledgeBase { org, .. }
            | Change::Document { org, .. }
            | Change::Credentials { org }
            | Change::Channel { org, .. } => org,
        }
    }

    /// The kind as stored: `organization`, `access`, `bot`, `knowledge_base`, `document`,
    /// `credentials` or `channel`.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Organization { .. } => "organization",
            Change::Access { .. } => "access",
            Change::Bot { .. } => "bot",
            Change::KnowledgeBase { .. } => "knowledge_base",
            Change::Document { .. } => "document",
            Change::Credentials { .. } => "credentials",
            Change::Channel { .. } => "channel",
        }
    }

    /// The changed thing's id (`None` for organization-wide kinds) and, for a document, its
    /// knowledge base: the two id columns of a stored change.
    pub fn subject(&self) -> (Option<Uuid>, Option<Uuid>) {
        match *self {
            Change::Organization { .. } | Change::Access { .. } | Change::Credentials { .. } => {
                (None, None)
            }
            Change::Bot { bot, .. } => (Some(bot.into()), None),
            Change::KnowledgeBase { kb, .. } => (Some(kb.into()), None),
            Change::Document { kb, doc, .. } => (Some(doc.into()), Some(kb.into())),
            Change::Channel { channel, .. } => (Some(channel.into()), None),
        }
    }

    /// The change stored as `kind` with `subject` and `parent` ids (the inverse of
    /// [`Change::kind`] and [`Change::subject`]); `None` for an unknown kind or missing id.
    pub fn from_parts(
        org: OrgId,
        kind: &str,
        subject: Option<Uuid>,
        parent: Option<Uuid>,
    ) -> Option<Change> {
        Some(match kind {
            "organization" => Change::Organization { org },
            "access" => Change::Access { org },
            "credentials" => Change::Credentials { org },
            "bot" => Change::Bot {
                org,
                bot: subject?.into(),
            },
            "knowledge_base" => Change::KnowledgeBase {
                org,
                kb: subject?.into(),
            },
            "document" => Change::Document {
                org,
                kb: parent?.into(),
                doc: subject?.into(),
            },
            "channel" => Change::Channel {
                org,
                channel: subject?.into(),
            },
            _ => return None,
        })
    }
}

/// One entry of the change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeRecord {
    /// Position in the feed: increasing in the order the changes' transactions commit.
    pub seq: u64,
    /// What changed.
    pub change: Change,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_survives_its_stored_parts() {
        let org = OrgId::from(Uuid::now_v7());
        let id = Uuid::now_v7();
        for change in [
            Change::Organization { org },
            Change::Access { org },
            Change::Credentials { org },
            Change::Bot {
                org,
                bot: id.into(),
            },
            Change::KnowledgeBase { org, kb: id.into() },
            Change::Document {
                org,
                kb: Uuid::now_v7().into(),
                doc: id.into(),
            },
            Change::Channel {
                org,
                channel: id.into(),
            },
        ] {
            let (subject, parent) = change.subject();
            assert_eq!(
                Change::from_parts(org, change.kind(), subject, parent),
                Some(change)
            );
            assert_eq!(change.org(), org);
        }
        assert_eq!(Change::from_parts(org, "bot", None, None), None);
        assert_eq!(Change::from_parts(org, "weather", None, None), None);
    }
}
