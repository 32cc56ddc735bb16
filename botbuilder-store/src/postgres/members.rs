//! Memberships ([`MemberRepo`]) on Postgres.
//!
//! SQLite keeps "the last owner is kept" with one guarded statement, safe there because it has
//! a single writer. Under concurrent Postgres transactions two owners demoting each other could
//! both see the other still an owner and both succeed. So a demotion or removal first locks the
//! organization's row (`FOR NO KEY UPDATE`): the changes that can take an owner away from one
//! organization run one after another, and the guarded statement that follows, with a snapshot
//! taken after the lock was granted, counts the owners the previous one left. The lock does not
//! conflict with the `FOR KEY SHARE` locks that foreign key checks take, so inserting into the
//! organization's other tables is not held up. Adding a member needs no lock: it never takes an
//! owner away.

use async_trait::async_trait;
use botbuilder_core::domain::{Member, Membership, Page, PageRequest};
use botbuilder_core::id::{OrgId, RoleId, UserId};
use botbuilder_core::store::{MemberRepo, StoreError, StoreResult};
use sqlx::{Postgres, Transaction};

use super::{PgStore, commit};
use crate::error::store_err;
use crate::rows::{MemberRow, from_micros, member_columns, micros, page_of};

/// Id of `$1`'s built-in owner role.
macro_rules! owner_role {
    () => {
        "(SELECT id FROM roles WHERE organization_id = $1 AND builtin AND name = 'owner')"
    };
}

/// Number of owners of organization `$1`.
macro_rules! owner_count {
    () => {
        concat!(
            "(SELECT count(*) FROM organization_members WHERE organization_id = $1 AND role_id = ",
            owner_role!(),
            ")"
        )
    };
}

/// A member of `$1` joined with its user and role, completed by a `WHERE` clause on `m`.
macro_rules! select_member {
    ($where:literal) => {
        concat!(
            "SELECT ",
            member_columns!(),
            " FROM organization_members m
              JOIN users u ON u.id = m.user_id
              JOIN roles r ON r.id = m.role_id
              WHERE m.organization_id = $1",
            $where
        )
    };
}

const LAST_OWNER: &str = "an organization must keep at least one owner";

/// Holds every other demotion or removal of `org`'s members off until `tx` ends (see the
/// module docs). `NotFound` if the organization does not exist.
async fn lock_owners(tx: &mut Transaction<'static, Postgres>, org: OrgId) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM organizations WHERE id = $1 FOR NO KEY UPDATE")
        .bind(org.as_uuid())
        .fetch_one(&mut **tx)
        .await
        .map_err(store_err)?;
    Ok(())
}

/// The membership of `user` in `org`, read in `tx`; `NotFound` if not a member.
async fn fetch_member(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    user: UserId,
) -> StoreResult<Member> {
    sqlx::query_as::<_, MemberRow>(select_member!(" AND m.user_id = $2"))
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .fetch_one(&mut **tx)
        .await
        .map_err(store_err)?
        .try_into()
}

/// After a guarded write touched no row: `NotFound` if `user` is not a member of `org`,
/// otherwise the last-owner rule refused it.
async fn missing_or_last_owner(
    tx: &mut Transaction<'static, Postgres>,
    org: OrgId,
    user: UserId,
) -> StoreError {
    match fetch_member(tx, org, user).await {
        Ok(_) => StoreError::Conflict(LAST_OWNER.to_owned()),
        Err(e) => e,
    }
}

#[async_trait]
impl MemberRepo for PgStore {
    async fn add_member(&self, org: OrgId, user: UserId, role: RoleId) -> StoreResult<Membership> {
        let now = micros(self.now());
        let mut tx = self.tenant(org).await?;
        // The composite foreign key refuses a role of another organization (`NotFound`).
        sqlx::query(
            "INSERT INTO organization_members (organization_id, user_id, role_id, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .bind(role.as_uuid())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match store_err(e) {
            StoreError::Conflict(_) => StoreError::Conflict("already a member".to_owned()),
            other => other,
        })?;
        commit(tx).await?;
        Ok(Membership {
            org_id: org,
            user_id: user,
            role_id: role,
            created_at: from_micros(now),
        })
    }

    async fn get_member(&self, org: OrgId, user: UserId) -> StoreResult<Member> {
        let mut tx = self.tenant(org).await?;
        let member = fetch_member(&mut tx, org, user).await?;
        commit(tx).await?;
        Ok(member)
    }

    async fn list_members(&self, org: OrgId, page: PageRequest) -> StoreResult<Page<Member>> {
        let limit = page.effective_limit();
        let mut tx = self.tenant(org).await?;
        let rows = sqlx::query_as::<_, MemberRow>(select_member!(
            " AND ($2::uuid IS NULL OR m.user_id > $2) ORDER BY m.user_id LIMIT $3"
        ))
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        page_of(rows, limit, |m: &Member| m.user_id.as_uuid())
    }

    async fn update_member_role(
        &self,
        org: OrgId,
        user: UserId,
        role: RoleId,
    ) -> StoreResult<Member> {
        let mut tx = self.tenant(org).await?;
        lock_owners(&mut tx, org).await?;
        // Refused when it would demote the last owner; a role of another organization fails
        // the composite foreign key (`NotFound`).
        let done = sqlx::query(concat!(
            "UPDATE organization_members SET role_id = $3
             WHERE organization_id = $1 AND user_id = $2
               AND ($3 = ",
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
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(missing_or_last_owner(&mut tx, org, user).await);
        }
        let member = fetch_member(&mut tx, org, user).await?;
        commit(tx).await?;
        Ok(member)
    }

    async fn remove_member(&self, org: OrgId, user: UserId) -> StoreResult<()> {
        let mut tx = self.tenant(org).await?;
        lock_owners(&mut tx, org).await?;
        let done = sqlx::query(concat!(
            "DELETE FROM organization_members
             WHERE organization_id = $1 AND user_id = $2
               AND (role_id <> ",
            owner_role!(),
            " OR ",
            owner_count!(),
            " > 1)"
        ))
        .bind(org.as_uuid())
        .bind(user.as_uuid())
        .execute(&mut *tx)
        .await
        .map_err(store_err)?;
        if done.rows_affected() == 0 {
            return Err(missing_or_last_owner(&mut tx, org, user).await);
        }
        commit(tx).await
    }
}

#[cfg(test)]
mod tests {
    use botbuilder_core::domain::{NewOrganization, NewUser};
    use botbuilder_core::store::{OrgRepo, RoleRepo, UserRepo};

    use super::*;
    use crate::postgres::testing::fresh_database;
    use crate::postgres::{PgSettings, connect};

    fn new_user(email: &str) -> NewUser {
        NewUser {
            email: email.to_owned(),
            name: "Owner".to_owned(),
            password_hash: "x".to_owned(),
        }
    }

    /// The two owners of an organization step down at the same moment (both demoted, or both
    /// removed): one succeeds, the other is `Conflict`, and exactly one owner is left.
    #[tokio::test]
    async fn concurrent_demotions_keep_the_last_owner() {
        let test = "concurrent_demotions_keep_the_last_owner";
        let Some(url) = fresh_database(test).await else {
            return;
        };
        let store = PgStore::from_pool(connect(&url, &PgSettings::default()).await.unwrap());
        // Without the lock, both usually succeed within the first rounds.
        for round in 0..10 {
            let alice = store
                .create_user(new_user(&format!("alice{round}@example.com")))
                .await
                .unwrap();
            let bob = store
                .create_user(new_user(&format!("bob{round}@example.com")))
                .await
                .unwrap();
            let org = store
                .create_org(NewOrganization { name: "o".into() }, alice.id)
                .await
                .unwrap();
            let owner = store.find_role_by_name(org.id, "owner").await.unwrap();
            let admin = store.find_role_by_name(org.id, "admin").await.unwrap();
            store.add_member(org.id, bob.id, owner.id).await.unwrap();

            // Even rounds demote each other, odd rounds remove each other.
            let (a, b) = if round % 2 == 0 {
                let (a, b) = tokio::join!(
                    store.update_member_role(org.id, alice.id, admin.id),
                    store.update_member_role(org.id, bob.id, admin.id),
                );
                (a.map(drop), b.map(drop))
            } else {
                tokio::join!(
                    store.remove_member(org.id, alice.id),
                    store.remove_member(org.id, bob.id),
                )
            };
            let one_wins = matches!(
                (&a, &b),
                (Ok(()), Err(StoreError::Conflict(_))) | (Err(StoreError::Conflict(_)), Ok(()))
            );
            assert!(one_wins, "round {round}: {a:?}, {b:?}");
            let members = store
                .list_members(org.id, PageRequest::default())
                .await
                .unwrap();
            let owners = members.items.iter().filter(|m| m.role.is_owner()).count();
            assert_eq!(owners, 1, "round {round}");
        }
    }
}
