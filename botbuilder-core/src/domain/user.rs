use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::role::Role;
use crate::id::UserId;

/// A person who can sign in. Users belong to organizations through memberships.
#[derive(Clone, PartialEq)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// Email address, stored lower-cased; unique.
    pub email: String,
    /// Display name.
    pub name: String,
    /// The password hash in PHC string format (argon2id by default).
    pub password_hash: String,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("password_hash", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A user to create. The email is normalized (trimmed, lower-cased) by the store.
#[derive(Clone, PartialEq)]
pub struct NewUser {
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// An already computed password hash (never the password).
    pub password_hash: String,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A member of an organization as listed to other members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    /// The user's id.
    pub user_id: UserId,
    /// The user's email.
    pub email: String,
    /// The user's display name.
    pub name: String,
    /// The member's role in this organization.
    pub role: Role,
    /// When the user joined the organization.
    pub joined_at: DateTime<Utc>,
}
