use async_trait::async_trait;
use botbuilder_core::domain::{
    Bot, BotImport, BotPatch, Entity, Intent, NewBot, Page, PageRequest,
};
use botbuilder_core::id::{BotId, OrgId};
use botbuilder_core::store::{BotRepo, StoreResult};
use uuid::Uuid;

use super::{SqliteStore, expect_one};
use crate::error::store_err;
use crate::rows::bots::{ai_json, bot_columns, examples_json, kind_json, settings_json};
use crate::rows::page_of;
use crate::rows::{BotRow, EntityRow, IntentRow, micros};

/// Inserts a bot with `executor` (the writer, or a transaction).
pub(super) async fn insert_bot<'e, E>(
    executor: E,
    org: OrgId,
    new: &NewBot,
    now: i64,
) -> StoreResult<Bot>
where
    E: sqlx::SqliteExecutor<'e>,
{
    sqlx::query_as::<_, BotRow>(concat!(
        "INSERT INTO bots (id, organization_id, name, description, ai_config, settings,
                           created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
        bot_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(org.as_uuid())
    .bind(&new.name)
    .bind(&new.description)
    .bind(ai_json(&new.ai_config)?)
    .bind(settings_json(&new.settings)?)
    .bind(now)
    .bind(now)
    .fetch_one(executor)
    .await
    .map_err(store_err)?
    .try_into()
}

#[async_trait]
impl BotRepo for SqliteStore {
    async fn create_bot(&self, org: OrgId, new: NewBot) -> StoreResult<Bot> {
        insert_bot(&self.writer, org, &new, micros(self.now())).await
    }

    async fn import_bot(&self, org: OrgId, import: BotImport) -> StoreResult<Bot> {
        let now = micros(self.now());
        let mut tx = self.write_transaction().await?;
        let bot = insert_bot(&mut *tx, org, &import.bot, now).await?;
        for intent in &import.intents {
            let data = examples_json(intent)?;
            super::nlu::insert_named::<IntentRow, Intent, _>(
                &mut *tx,
                &super::nlu::INTENTS,
                (org, bot.id),
                &intent.name,
                data,
                now,
            )
            .await?;
        }
        for entity in &import.entities {
            let data = kind_json(entity)?;
            super::nlu::insert_named::<EntityRow, Entity, _>(
                &mut *tx,
                &super::nlu::ENTITIES,
                (org, bot.id),
                &entity.name,
                data,
                now,
            )
            .await?;
        }
        if let Some(flow) = &import.flow {
            super::flows::upsert_draft(&mut *tx, org, bot.id, flow, now).await?;
            super::flows::insert_version(&mut *tx, org, bot.id, flow, now).await?;
        }
        tx.commit().await.map_err(store_err)?;
        Ok(bot)
    }

    async fn get_bot(&self, org: OrgId, bot: BotId) -> StoreResult<Bot> {
        sqlx::query_as::<_, BotRow>(concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots WHERE organization_id = ? AND id = ?"
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn list_bots(&self, org: OrgId, page: PageRequest) -> StoreResult<Page<Bot>> {
        let limit = page.effective_limit();
        let rows = sqlx::query_as::<_, BotRow>(concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots WHERE organization_id = ?1 AND (?2 IS NULL OR id > ?2)
              ORDER BY id LIMIT ?3"
        ))
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(store_err)?;
        page_of(rows, limit, |b: &Bot| b.id.as_uuid())
    }

    async fn update_bot(&self, org: OrgId, bot: BotId, patch: BotPatch) -> StoreResult<Bot> {
        let ai = patch.ai_config.as_ref().map(ai_json).transpose()?;
        let settings = patch.settings.as_ref().map(settings_json).transpose()?;
        sqlx::query_as::<_, BotRow>(concat!(
            "UPDATE bots SET name = COALESCE(?3, name), description = COALESCE(?4, description),
                    ai_config = COALESCE(?5, ai_config), settings = COALESCE(?7, settings),
                    updated_at = ?6
             WHERE organization_id = ?1 AND id = ?2 RETURNING ",
            bot_columns!()
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(patch.name)
        .bind(patch.description)
        .bind(ai)
        .bind(micros(self.now()))
        .bind(settings)
        .fetch_one(&self.writer)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn get_public_bot(&self, bot: BotId) -> StoreResult<Bot> {
        sqlx::query_as::<_, BotRow>(concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots WHERE id = ?"
        ))
        .bind(bot.as_uuid())
        .fetch_one(&self.pool)
        .await
        .map_err(store_err)?
        .try_into()
    }

    async fn delete_bot(&self, org: OrgId, bot: BotId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM bots WHERE organization_id = ? AND id = ?")
            .bind(org.as_uuid())
            .bind(bot.as_uuid())
            .execute(&self.writer)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())
    }
}
