use async_trait::async_trait;
use botbuilder_core::domain::{AuditEntry, AuditFilter, NewAuditEntry, Page, PageRequest};
use botbuilder_core::id::OrgId;
use botbuilder_core::store::{AuditRepo, StoreResult};
use uuid::Uuid;

use super::SqliteStore;
use crate::error::store_err;
use crate::rows::page_of;
use crate::rows::{AuditRow, micros};

macro_rules! audit_columns {
    () => {
        "id, organization_id, actor, action, target_type, target_id, details, ip, request_id, created_at"
    };
}

#[async_trait]
impl AuditRepo for SqliteStore {
    async fn append_audit(&self, org: OrgId, entry: NewAuditEntry) -> StoreResult<AuditEntry> {
        sqlx::query_as::<_, AuditRow>(concat!(
            "INSERT INTO audit_log (id, organization_id, actor, action, target_type, target_id,
                                    details, ip, request_id, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
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
        .fetch_one(&self.writer)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn list_audit(
        &self,
        org: OrgId,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEntry>> {
        let limit = page.effective_limit();
        let rows = sqlx::query_as::<_, AuditRow>(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_log
              WHERE organization_id = ?1
                AND (?2 IS NULL OR id < ?2)
                AND (?3 IS NULL OR action = ?3)
                AND (?4 IS NULL OR actor = ?4)
                AND (?5 IS NULL OR created_at >= ?5)
                AND (?6 IS NULL OR created_at < ?6)
              ORDER BY id DESC LIMIT ?7"
        ))
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(filter.action.as_deref())
        .bind(filter.actor.map(|a| a.to_key()))
        .bind(filter.since.map(micros))
        .bind(filter.until.map(micros))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        page_of(rows, limit, |e: &AuditEntry| e.id.as_uuid())
    }
}
