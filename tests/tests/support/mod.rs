//! Helpers shared by the test files (each uses part of them): stores and uploads for the
//! knowledge tests, and driving real instances over HTTP ([`http`]).
#![allow(dead_code)]

pub(crate) mod http;
pub(crate) mod outage;
pub(crate) mod receiver;

use std::sync::Arc;

use botbuilder_core::domain::{DocumentSource, NewOrganization, NewUser};
use botbuilder_core::id::OrgId;
use botbuilder_core::knowledge::Upload;
use botbuilder_core::store::prelude::*;
use botbuilder_store::SqliteStore;

/// The URL of a SQLite file `shared.db` in `dir`.
pub(crate) fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("shared.db").display())
}

pub(crate) async fn open(path: &std::path::Path) -> Arc<SqliteStore> {
    let url = format!("sqlite://{}", path.display());
    Arc::new(SqliteStore::connect(&url).await.unwrap())
}

pub(crate) async fn org(store: &SqliteStore) -> OrgId {
    let (_, org) = store
        .create_user_with_org(
            NewUser {
                email: "kb@example.com".into(),
                name: "KB".into(),
                password_hash: "-".into(),
            },
            NewOrganization { name: "KB".into() },
        )
        .await
        .unwrap();
    org.id
}

pub(crate) fn upload(title: &str, content_type: &str, text: &str) -> Upload {
    Upload {
        title: title.to_owned(),
        source: DocumentSource::Text,
        content_type: content_type.to_owned(),
        content_hash: format!("hash-of-{title}"),
        bytes: text.as_bytes().to_vec(),
    }
}
