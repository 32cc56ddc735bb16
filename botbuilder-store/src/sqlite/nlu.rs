//! Intents and entity definitions: two tables of named, bot-scoped rows with one JSON column
//! each, served by the same statements (generated per table) and helpers.

use async_trait::async_trait;
use botbuilder_core::domain::{Entity, EntityPatch, Intent, IntentPatch, NewEntity, NewIntent};
use botbuilder_core::id::{BotId, EntityId, IntentId, OrgId};
use botbuilder_core::store::{BotRepo, NluRepo, StoreError, StoreResult};
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{SqliteStore, expect_one};
use crate::error::{name_conflict, store_err};
use crate::rows::bots::{examples_json, kind_json, nlu_json};
use crate::rows::{EntityRow, IntentRow, micros};

/// The statements for one table of named rows.
pub(super) struct NamedRowSql {
    insert: &'static str,
    list: &'static str,
    get: &'static str,
    update: &'static str,
    delete: &'static str,
}

macro_rules! named_row_sql {
    ($table:literal, $data:literal) => {
        NamedRowSql {
            insert: concat!(
                "INSERT INTO ",
                $table,
                " (id, organization_id, bot_id, name, ",
                $data,
                ", created_at, updated_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
                 WHERE EXISTS (SELECT 1 FROM bots WHERE id = ?3 AND organization_id = ?2)
                 RETURNING id, organization_id, bot_id, name, ",
                $data,
                ", created_at, updated_at"
            ),
            list: concat!(
                "SELECT id, organization_id, bot_id, name, ",
                $data,
                ", created_at, updated_at
                 FROM ",
                $table,
                " WHERE organization_id = ? AND bot_id = ? ORDER BY id"
            ),
            get: concat!(
                "SELECT id, organization_id, bot_id, name, ",
                $data,
                ", created_at, updated_at
                 FROM ",
                $table,
                " WHERE organization_id = ? AND bot_id = ? AND id = ?"
            ),
            update: concat!(
                "UPDATE ",
                $table,
                " SET name = COALESCE(?4, name), ",
                $data,
                " = COALESCE(?5, ",
                $data,
                "), updated_at = ?6
                 WHERE organization_id = ?1 AND bot_id = ?2 AND id = ?3
                 RETURNING id, organization_id, bot_id, name, ",
                $data,
                ", created_at, updated_at"
            ),
            delete: concat!(
                "DELETE FROM ",
                $table,
                " WHERE organization_id = ? AND bot_id = ? AND id = ?"
            ),
        }
    };
}

pub(super) const INTENTS: NamedRowSql = named_row_sql!("intents", "examples");
pub(super) const ENTITIES: NamedRowSql = named_row_sql!("entities", "kind");

/// Inserts a named row with `executor` (the writer, or a transaction).
pub(super) async fn insert_named<'e, R, T, E>(
    executor: E,
    sql: &NamedRowSql,
    (org, bot): (OrgId, BotId),
    name: &str,
    data: String,
    now: i64,
) -> StoreResult<T>
where
    R: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
    T: TryFrom<R, Error = StoreError>,
    E: sqlx::SqliteExecutor<'e>,
{
    sqlx::query_as::<_, R>(sql.insert)
        .bind(Uuid::now_v7())
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(name)
        .bind(data)
        .bind(now)
        .bind(now)
        .fetch_one(executor)
        .await
        .map_err(name_conflict(name))?
        .try_into()
}

impl SqliteStore {
    async fn insert_named<R, T>(
        &self,
        sql: &NamedRowSql,
        scope: (OrgId, BotId),
        name: &str,
        data: String,
    ) -> StoreResult<T>
    where
        R: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
        T: TryFrom<R, Error = StoreError>,
    {
        let now = micros(self.now());
        insert_named::<R, T, _>(&self.writer, sql, scope, name, data, now).await
    }

    async fn list_named<R, T>(
        &self,
        sql: &NamedRowSql,
        org: OrgId,
        bot: BotId,
    ) -> StoreResult<Vec<T>>
    where
        R: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
        T: TryFrom<R, Error = StoreError>,
    {
        self.get_bot(org, bot).await?;
        sqlx::query_as::<_, R>(sql.list)
            .bind(org.as_uuid())
            .bind(bot.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(store_err)?
            .into_iter()
            .map(T::try_from)
            .collect()
    }

    async fn get_named<R, T>(
        &self,
        sql: &NamedRowSql,
        (org, bot): (OrgId, BotId),
        id: Uuid,
    ) -> StoreResult<T>
    where
        R: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
        T: TryFrom<R, Error = StoreError>,
    {
        sqlx::query_as::<_, R>(sql.get)
            .bind(org.as_uuid())
            .bind(bot.as_uuid())
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .map_err(store_err)?
            .try_into()
    }

    async fn update_named<R, T>(
        &self,
        sql: &NamedRowSql,
        (org, bot): (OrgId, BotId),
        id: Uuid,
        name: Option<String>,
        data: Option<String>,
    ) -> StoreResult<T>
    where
        R: for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin,
        T: TryFrom<R, Error = StoreError>,
    {
        let conflict_name = name.clone().unwrap_or_default();
        sqlx::query_as::<_, R>(sql.update)
            .bind(org.as_uuid())
            .bind(bot.as_uuid())
            .bind(id)
            .bind(name)
            .bind(data)
            .bind(micros(self.now()))
            .fetch_one(&self.writer)
            .await
            .map_err(name_conflict(&conflict_name))?
            .try_into()
    }

    async fn delete_named(
        &self,
        sql: &NamedRowSql,
        (org, bot): (OrgId, BotId),
        id: Uuid,
    ) -> StoreResult<()> {
        let done = sqlx::query(sql.delete)
            .bind(org.as_uuid())
            .bind(bot.as_uuid())
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())
    }
}

#[async_trait]
impl NluRepo for SqliteStore {
    async fn create_intent(&self, org: OrgId, bot: BotId, new: NewIntent) -> StoreResult<Intent> {
        let data = examples_json(&new)?;
        self.insert_named::<IntentRow, _>(&INTENTS, (org, bot), &new.name, data)
            .await
    }

    async fn list_intents(&self, org: OrgId, bot: BotId) -> StoreResult<Vec<Intent>> {
        self.list_named::<IntentRow, _>(&INTENTS, org, bot).await
    }

    async fn get_intent(&self, org: OrgId, bot: BotId, intent: IntentId) -> StoreResult<Intent> {
        self.get_named::<IntentRow, _>(&INTENTS, (org, bot), intent.as_uuid())
            .await
    }

    async fn update_intent(
        &self,
        org: OrgId,
        bot: BotId,
        intent: IntentId,
        patch: IntentPatch,
    ) -> StoreResult<Intent> {
        let data = patch.examples.as_ref().map(nlu_json).transpose()?;
        self.update_named::<IntentRow, _>(&INTENTS, (org, bot), intent.as_uuid(), patch.name, data)
            .await
    }

    async fn delete_intent(&self, org: OrgId, bot: BotId, intent: IntentId) -> StoreResult<()> {
        self.delete_named(&INTENTS, (org, bot), intent.as_uuid())
            .await
    }

    async fn create_entity(&self, org: OrgId, bot: BotId, new: NewEntity) -> StoreResult<Entity> {
        let data = kind_json(&new)?;
        self.insert_named::<EntityRow, _>(&ENTITIES, (org, bot), &new.name, data)
            .await
    }

    async fn list_entities(&self, org: OrgId, bot: BotId) -> StoreResult<Vec<Entity>> {
        self.list_named::<EntityRow, _>(&ENTITIES, org, bot).await
    }

    async fn get_entity(&self, org: OrgId, bot: BotId, entity: EntityId) -> StoreResult<Entity> {
        self.get_named::<EntityRow, _>(&ENTITIES, (org, bot), entity.as_uuid())
            .await
    }

    async fn update_entity(
        &self,
        org: OrgId,
        bot: BotId,
        entity: EntityId,
        patch: EntityPatch,
    ) -> StoreResult<Entity> {
        let data = patch.kind.as_ref().map(nlu_json).transpose()?;
        self.update_named::<EntityRow, _>(&ENTITIES, (org, bot), entity.as_uuid(), patch.name, data)
            .await
    }

    async fn delete_entity(&self, org: OrgId, bot: BotId, entity: EntityId) -> StoreResult<()> {
        self.delete_named(&ENTITIES, (org, bot), entity.as_uuid())
            .await
    }
}
