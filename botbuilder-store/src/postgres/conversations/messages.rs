//! Storing new messages: one `unnest` insert for any number of them, with the usage ledger
//! rows of those a language model wrote, in the caller's transaction (see the
//! [module docs](super) for why the caller locks the session first).

use botbuilder_core::domain::{Message, NewMessage};
use botbuilder_core::id::{BotId, OrgId, SessionId};
use botbuilder_core::store::StoreResult;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::store_err;
use crate::rows::conversations::{MessageRow, message_columns};

/// New messages as columns, for one `unnest` insert however many there are.
#[derive(Default)]
struct MessageColumns {
    ids: Vec<Uuid>,
    directions: Vec<&'static str>,
    texts: Vec<String>,
    payloads: Vec<String>,
    intents: Vec<Option<String>>,
    confidences: Vec<Option<f64>>,
    prompt_tokens: Vec<i64>,
    completion_tokens: Vec<i64>,
    costs: Vec<i64>,
}

/// The usage ledger rows of the new messages a language model wrote, as columns.
#[derive(Default)]
struct UsageColumns {
    ids: Vec<Uuid>,
    providers: Vec<String>,
    models: Vec<String>,
    prompt_tokens: Vec<i64>,
    completion_tokens: Vec<i64>,
    costs: Vec<i64>,
    estimated: Vec<bool>,
}

/// Splits `news` into columns, giving each message a new id above `after` (the session's
/// newest message). Call it only with the session row locked (see the module docs: the ids
/// are the messages' order).
fn columns(news: Vec<NewMessage>, after: Option<Uuid>) -> (MessageColumns, UsageColumns) {
    let mut messages = MessageColumns::default();
    let mut usage = UsageColumns::default();
    let mut last = after;
    for new in news {
        let id = id_after(last);
        last = Some(id);
        let llm = new.llm.as_ref();
        messages.ids.push(id);
        messages.directions.push(new.direction.as_str());
        messages.texts.push(new.text);
        messages.payloads.push(new.payload.to_string());
        messages.intents.push(new.intent);
        messages.confidences.push(new.confidence.map(f64::from));
        messages
            .prompt_tokens
            .push(i64::from(llm.map_or(0, |c| c.prompt_tokens)));
        messages
            .completion_tokens
            .push(i64::from(llm.map_or(0, |c| c.completion_tokens)));
        messages.costs.push(llm.map_or(0, |c| c.cost_micros));
        if let Some(call) = new.llm {
            usage.ids.push(id);
            usage.providers.push(call.provider);
            usage.models.push(call.model);
            usage.prompt_tokens.push(i64::from(call.prompt_tokens));
            usage
                .completion_tokens
                .push(i64::from(call.completion_tokens));
            usage.costs.push(call.cost_micros);
            usage.estimated.push(call.estimated);
        }
    }
    (messages, usage)
}

/// A new UUIDv7, or `last + 1` when the clock has not moved past `last`: another instance's
/// clock may run ahead, or write within the same millisecond, and the ids are the messages'
/// order.
pub(super) fn id_after(last: Option<Uuid>) -> Uuid {
    let id = Uuid::now_v7();
    match last {
        Some(last) if id <= last => Uuid::from_u128(last.as_u128().wrapping_add(1)),
        _ => id,
    }
}

/// Stores `news` in `session` (of `org`, for `bot`, whose row the caller has locked) at `now`,
/// in order, with a usage ledger row for each one a language model wrote; returns them
/// oldest first.
pub(super) async fn insert_messages(
    db: &mut PgConnection,
    org: OrgId,
    bot: BotId,
    session: SessionId,
    news: Vec<NewMessage>,
    now: i64,
) -> StoreResult<Vec<Message>> {
    if news.is_empty() {
        return Ok(Vec::new());
    }
    // The session's newest message, read under its row lock: new messages sort after it by id
    // and never carry an earlier time (a writer that waited for the lock read its clock first).
    let (last_id, last_at): (Option<Uuid>, Option<i64>) = sqlx::query_as(
        "SELECT id, created_at FROM messages
         WHERE organization_id = $1 AND session_id = $2 ORDER BY id DESC LIMIT 1",
    )
    .bind(org.as_uuid())
    .bind(session.as_uuid())
    .fetch_optional(&mut *db)
    .await
    .map_err(store_err)?
    .map_or((None, None), |(id, at)| (Some(id), Some(at)));
    let now = now.max(last_at.unwrap_or(now));
    let (m, u) = columns(news, last_id);
    // Inserted in `ORDER BY n` order, so row triggers fire in message order too.
    let mut messages = sqlx::query_as::<_, MessageRow>(concat!(
        "INSERT INTO messages (id, organization_id, bot_id, session_id, direction, text,
                               payload, intent, confidence, prompt_tokens,
                               completion_tokens, cost_micros, created_at)
         SELECT m.id, $1, $2, $3, m.direction, m.text, m.payload, m.intent, m.confidence,
                m.prompt_tokens, m.completion_tokens, m.cost_micros, $4
         FROM unnest($5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[],
                     $10::float8[], $11::bigint[], $12::bigint[], $13::bigint[])
              WITH ORDINALITY AS m(id, direction, text, payload, intent, confidence,
                                   prompt_tokens, completion_tokens, cost_micros, n)
         ORDER BY m.n
         RETURNING ",
        message_columns!()
    ))
    .bind(org.as_uuid())
    .bind(bot.as_uuid())
    .bind(session.as_uuid())
    .bind(now)
    .bind(&m.ids)
    .bind(&m.directions)
    .bind(&m.texts)
    .bind(&m.payloads)
    .bind(&m.intents)
    .bind(&m.confidences)
    .bind(&m.prompt_tokens)
    .bind(&m.completion_tokens)
    .bind(&m.costs)
    .fetch_all(&mut *db)
    .await
    .map_err(store_err)?
    .into_iter()
    .map(Message::try_from)
    .collect::<StoreResult<Vec<_>>>()?;
    messages.sort_by_key(|message| message.id.as_uuid());
    if !u.ids.is_empty() {
        insert_usage(db, org, bot, &u, now).await?;
    }
    Ok(messages)
}

/// Records the ledger rows of language model calls (tied to the organization only, so they
/// outlive the messages).
async fn insert_usage(
    db: &mut PgConnection,
    org: OrgId,
    bot: BotId,
    u: &UsageColumns,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO llm_usage (id, organization_id, bot_id, provider, model, prompt_tokens,
                                completion_tokens, cost_micros, estimated, created_at)
         SELECT u.id, $1, $2, u.provider, u.model, u.prompt_tokens, u.completion_tokens,
                u.cost_micros, u.estimated, $3
         FROM unnest($4::uuid[], $5::text[], $6::text[], $7::bigint[], $8::bigint[],
                     $9::bigint[], $10::boolean[])
              AS u(id, provider, model, prompt_tokens, completion_tokens, cost_micros,
                   estimated)",
    )
    .bind(org.as_uuid())
    .bind(bot.as_uuid())
    .bind(now)
    .bind(&u.ids)
    .bind(&u.providers)
    .bind(&u.models)
    .bind(&u.prompt_tokens)
    .bind(&u.completion_tokens)
    .bind(&u.costs)
    .bind(&u.estimated)
    .execute(db)
    .await
    .map_err(store_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::id_after;
    use uuid::Uuid;

    #[test]
    fn ids_rise_past_a_newer_last_id() {
        let ahead = Uuid::from_u128(Uuid::now_v7().as_u128() + (1 << 100));
        let next = id_after(Some(ahead));
        assert_eq!(next.as_u128(), ahead.as_u128() + 1);
        assert!(id_after(Some(next)) > next);
        let fresh = id_after(None);
        assert!(id_after(Some(fresh)) > fresh);
    }
}
