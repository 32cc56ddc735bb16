//! Bots ([`BotRepo`]) on Postgres.
//!
//! The statements are SQLite's, with numbered placeholders; each method runs in a transaction
//! scoped to its organization. What differs:
//! - [`BotRepo::get_public_bot`] belongs to no tenant (the public web chat learns a bot's
//!   organization from it), so it acts for the platform.
//! - [`BotRepo::import_bot`] writes the bot, its NLU data and its flow in one tenant
//!   transaction with the helpers of the NLU and flow repositories, as SQLite does: a failing
//!   statement aborts the transaction, and dropping it uncommitted rolls everything back.
//! - [`ensure_bot`] gives the NLU and flow reads SQLite's "the bot must be `org`'s" check
//!   inside their own transaction, so the check and the read see the same state.

use async_trait::async_trait;
use botbuilder_core::domain::{
    Bot, BotImport, BotPatch, Entity, Intent, NewBot, Page, PageRequest,
};
use botbuilder_core::id::{BotId, OrgId};
use botbuilder_core::store::{BotRepo, StoreError, StoreResult};
use sqlx::PgConnection;
use uuid::Uuid;

use super::nlu::{ENTITIES, INTENTS, insert_named};
use super::{PgStore, commit, expect_one};
use crate::error::store_err;
use crate::rows::bots::{ai_json, bot_columns, examples_json, kind_json, settings_json};
use crate::rows::{BotRow, EntityRow, IntentRow, micros, page_of};

/// Inserts a bot of `org` with `db` (a tenant transaction). `NotFound` if `org` does not
/// exist.
pub(super) async fn insert_bot(
    db: &mut PgConnection,
    org: OrgId,
    new: &NewBot,
    now: i64,
) -> StoreResult<Bot> {
    sqlx::query_as::<_, BotRow>(concat!(
        "INSERT INTO bots (id, organization_id, name, description, ai_config, settings,
                           created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING ",
        bot_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(org.as_uuid())
    .bind(&new.name)
    .bind(&new.description)
    .bind(ai_json(&new.ai_config)?)
    .bind(settings_json(&new.settings)?)
    .bind(now)
    .fetch_one(db)
    .await
    .map_err(store_err)?
    .try_into()
}

/// `Ok` if `bot` is one of `org`'s bots, `NotFound` otherwise (unknown, or another
/// organization's).
pub(super) async fn ensure_bot(db: &mut PgConnection, org: OrgId, bot: BotId) -> StoreResult<()> {
    sqlx::query_scalar::<_, i32>("SELECT 1 FROM bots WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_optional(db)
        .await
        .map_err(store_err)?
        .map(|_| ())
        .ok_or(StoreError::NotFound)
}

/// Stores everything `import` holds but the bot itself, for the new `bot`, with `db` (the
/// import's transaction).
async fn insert_content(
    db: &mut PgConnection,
    org: OrgId,
    bot: BotId,
    import: &BotImport,
    now: i64,
) -> StoreResult<()> {
    for intent in &import.intents {
        let data = examples_json(intent)?;
        insert_named::<IntentRow, Intent>(db, &INTENTS, (org, bot), &intent.name, data, now)
            .await?;
    }
    for entity in &import.entities {
        let data = kind_json(entity)?;
        insert_named::<EntityRow, Entity>(db, &ENTITIES, (org, bot), &entity.name, data, now)
            .await?;
    }
    if let Some(flow) = &import.flow {
        super::flows::upsert_draft(db, org, bot, flow, now).await?;
        super::flows::insert_version(db, org, bot, flow, now).await?;
    }
    Ok(())
}

#[async_trait]
impl BotRepo for PgStore {
    async fn create_bot(&self, org: OrgId, new: NewBot) -> StoreResult<Bot> {
        let mut tx = self.tenant(org).await?;
        let bot = insert_bot(&mut tx, org, &new, micros(self.now())).await?;
        commit(tx).await?;
        Ok(bot)
    }

    async fn import_bot(&self, org: OrgId, import: BotImport) -> StoreResult<Bot> {
        let now = micros(self.now());
        let mut tx = self.tenant(org).await?;
        let bot = insert_bot(&mut tx, org, &import.bot, now).await?;
        insert_content(&mut tx, org, bot.id, &import, now).await?;
        commit(tx).await?;
        Ok(bot)
    }

    async fn get_bot(&self, org: OrgId, bot: BotId) -> StoreResult<Bot> {
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, BotRow>(concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn list_bots(&self, org: OrgId, page: PageRequest) -> StoreResult<Page<Bot>> {
        let limit = page.effective_limit();
        let mut tx = self.tenant(org).await?;
        let rows = sqlx::query_as::<_, BotRow>(concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots WHERE organization_id = $1 AND ($2::uuid IS NULL OR id > $2)
              ORDER BY id LIMIT $3"
        ))
        .bind(org.as_uuid())
        .bind(page.cursor)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        page_of(rows, limit, |b: &Bot| b.id.as_uuid())
    }

    async fn update_bot(&self, org: OrgId, bot: BotId, patch: BotPatch) -> StoreResult<Bot> {
        let ai = patch.ai_config.as_ref().map(ai_json).transpose()?;
        let settings = patch.settings.as_ref().map(settings_json).transpose()?;
        let mut tx = self.tenant(org).await?;
        let row = sqlx::query_as::<_, BotRow>(concat!(
            "UPDATE bots SET name = COALESCE($3, name), description = COALESCE($4, description),
                    ai_config = COALESCE($5, ai_config), settings = COALESCE($6, settings),
                    updated_at = $7
             WHERE organization_id = $1 AND id = $2 RETURNING ",
            bot_columns!()
        ))
        .bind(org.as_uuid())
        .bind(bot.as_uuid())
        .bind(patch.name)
        .bind(patch.description)
        .bind(ai)
        .bind(settings)
        .bind(micros(self.now()))
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn get_public_bot(&self, bot: BotId) -> StoreResult<Bot> {
        let mut tx = self.platform().await?;
        let row = sqlx::query_as::<_, BotRow>(concat!(
            "SELECT ",
            bot_columns!(),
            " FROM bots WHERE id = $1"
        ))
        .bind(bot.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_err)?;
        commit(tx).await?;
        row.try_into()
    }

    async fn delete_bot(&self, org: OrgId, bot: BotId) -> StoreResult<()> {
        let mut tx = self.tenant(org).await?;
        let done = sqlx::query("DELETE FROM bots WHERE organization_id = $1 AND id = $2")
            .bind(org.as_uuid())
            .bind(bot.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(store_err)?;
        expect_one(done.rows_affected())?;
        commit(tx).await
    }
}
