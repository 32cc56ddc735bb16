//! The audit log ([`AuditRepo`]) on Postgres, in transactions scoped to the organization.
//! Entries are appended on the primary; listing them tolerates replication lag, so it reads
//! from the replica when one is configured ([`PgStore::tenant_replica`]): an entry just
//! appended may take a moment to be listed there.

use async_trait::async_trait;
use botbuilder_core::domain::{AuditEntry, AuditFilter, NewAuditEntry, Page, PageRequest};
use botbuilder_core::id::OrgId;
use botbuilder_core::store::{AuditRepo, StoreResult};
use uuid::Uuid;

use super::{PgStore, commit};
use crate::error::store_err;
use crate::rows::{AuditRow, micros, page_of};

macro_rules! audit_columns {
    () => {
        "id, organization_id, actor, action, target_type, target_id, details, ip, request_id, created_at"
    };
}

#[async_trait]
impl AuditRepo for PgStore {
    async fn append_audit(&self, org: OrgId, entry: NewAuditEntry) -> StoreResult<AuditEntry> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, AuditRow>(concat!(
            "INSERT INTO audit_log (id, organization_id, actor, action, target_type, target_id,
                                    details, ip, request_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ",
            audit_columns!()
        ))
        .bind(Uuid::now_v7())
        .bind(org.as_uuid())
        .bind(entry.actor.to_key())
        .bind(&entry.action)
        .bind(&entry.target_type)
        .bind(&entry.target_id)
        .bind(entry.details.to_string())
        .bind(&entry.ip)
        .bind(&entry.request_id)
        .bind(micros(self.now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn list_audit(
        &self,
        org: OrgId,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEntry>> {
        let limit = page.effective_limit();
        let mut tx = self.tenant_replica(org).await?;
        let rows = sqlx::query_as::<_, AuditRow>(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_log
              WHERE organization_id = $1
                AND ($2::uuid IS NULL OR id < $2)
                AND ($3::text IS NULL OR action = $3)
                AND ($4::text IS NULL OR actor = $4)
                AND ($5::bigint IS NULL OR created_at >= $5)
                AND ($6::bigint IS NULL OR created_at < $6)
              ORDER BY id DESC LIMIT $7"
        ))
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(filter.action.as_deref())
        .bind(filter.actor.map(|a| a.to_key()))
        .bind(filter.since.map(micros))
        .bind(filter.until.map(micros))
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        page_of(rows, limit, |e: &AuditEntry| e.id.as_uuid())
    }
}
