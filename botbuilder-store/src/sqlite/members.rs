use async_trait::async_trait;
use botbuilder_core::domain::{Member, Membership, Page, PageRequest};
use botbuilder_core::id::{OrgId, RoleId, UserId};
use botbuilder_core::store::{MemberRepo, StoreError, StoreResult};

use super::{SqliteStore, expect_one};
use crate::error::store_err;
use crate::rows::{MemberRow, from_micros, member_columns, micros};

/// Id of `?1`'s built-in owner role.
macro_rules! owner_role {
    () => {
        "(SELECT id FROM roles WHERE organization_id = ?1 AND builtin = 1 AND name = 'owner')"
    };
}

/// Number of owners of organization `?1`.
macro_rules! owner_count {
    () => {
        concat!(
            "(SELECT count(*) FROM organization_members WHERE organization_id = ?1 AND role_id = ",
            owner_role!(),
            ")"
        )
    };
}

const LAST_OWNER: &str = "an organization must keep at least one owner";

impl SqliteStore {
    /// After a guarded write touched no row: `NotFound` if `user` is not a member of `org`,
    /// otherwise the last-owner rule refused it.
    async fn member_missing_or_last_owner(&self, org: OrgId, user: UserId) -> StoreError {
        match self.get_member(org, user).await {
            Ok(_) => StoreError::Conflict(LAST_OWNER.to_owned()),
            Err(e) => e,
        }
    }
}

#[async_trait]
impl MemberRepo for SqliteStore {
    async fn add_member(&self, org: OrgId, user: UserId, role: RoleId) -> StoreResult<Membership> {
        let now = self.now();
        sqlx::query(
            "INSERT INTO organization_members (organization_id, user_id, role_id, created_at)
             VALUES (?, ?, ?, ?)",
        )
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .bind(role.as_uuid())
        .bind(micros(now))
        .execute(&self.writer)
        .await
        .map_err(|e| match store_err(e) {
            StoreError::Conflict(_) => StoreError::Conflict("already a member".to_owned()),
            other => other,
        })?;
        Ok(Membership {
            org_id: org,
            user_id: user,
            role_id: role,
            created_at: from_micros(micros(now)),
        })
    }

    async fn get_member(&self, org: OrgId, user: UserId) -> StoreResult<Member> {
        sqlx::query_as::<_, MemberRow>(concat!(
            "SELECT ",
            member_columns!(),
            " FROM organization_members m
              JOIN users u ON u.id = m.user_id
              JOIN roles r ON r.id = m.role_id
              WHERE m.organization_id = ? AND m.user_id = ?"
        ))
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn list_members(&self, org: OrgId, page: PageRequest) -> StoreResult<Page<Member>> {
        let limit = page.effective_limit();
        let rows = sqlx::query_as::<_, MemberRow>(concat!(
            "SELECT ",
            member_columns!(),
            " FROM organization_members m
              JOIN users u ON u.id = m.user_id
              JOIN roles r ON r.id = m.role_id
              WHERE m.organization_id = ?1 AND (?2 IS NULL OR m.user_id > ?2)
              ORDER BY m.user_id LIMIT ?3"
        ))
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        let members = rows
            .into_iter()
            .map(Member::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_overfetch(members, limit, |m| {
            m.user_id.as_uuid()
        }))
    }

    async fn update_member_role(
        &self,
        org: OrgId,
        user: UserId,
        role: RoleId,
    ) -> StoreResult<Member> {
        let done = sqlx::query(concat!(
            "UPDATE organization_members SET role_id = ?3
             WHERE organization_id = ?1 AND user_id = ?2
               AND (?3 = ",
            owner_role!(),
            " OR role_id <> ",
            owner_role!(),
            " OR ",
            owner_count!(),
            " > 1)"
        ))
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .bind(role.as_uuid())
        .execute(&self.writer)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(self.member_missing_or_last_owner(org, user).await);
        }
        self.get_member(org, user).await
    }

    async fn remove_member(&self, org: OrgId, user: UserId) -> StoreResult<()> {
        let done = sqlx::query(concat!(
            "DELETE FROM organization_members
             WHERE organization_id = ?1 AND user_id = ?2
               AND (role_id <> ",
            owner_role!(),
            " OR ",
            owner_count!(),
            " > 1)"
        ))
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .execute(&self.writer)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(self.member_missing_or_last_owner(org, user).await);
        }
        expect_one(done.rows_affected())
    }
}
