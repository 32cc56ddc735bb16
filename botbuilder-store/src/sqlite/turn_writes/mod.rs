//! The two writes of a conversation turn, and their group commit.
//!
//! A turn writes twice: the user's message ([`MessageInsert`], `append_message`) and then the
//! bot's replies with the session's new state ([`TurnCompletion`], `complete_turn`). Each
//! statement here takes any number of them, for any sessions: one `INSERT … SELECT … FROM
//! (VALUES …)` for messages, one `UPDATE … FROM (VALUES …)` for completions.
//!
//! **Group commit.** SQLite has one writer, and sqlx runs each connection on a thread of its
//! own, so every statement is a round trip to that thread and every write its own commit.
//! Under load many sessions' turns wait for the writer at once; [`GroupCommit`] takes every
//! write waiting when the writer comes free and commits them together: one `INSERT` and one
//! `UPDATE` in one transaction, four round trips for the batch instead of one round trip and
//! one commit per write. Nothing waits to fill a batch: a write arriving while no batch is
//! being written goes alone, at once, and whatever arrives meanwhile forms the next batch. A
//! batch holds at most one write per session (a second one waits for the next batch, so a
//! session's writes keep their order). A batch refused for one of its writes (a constraint)
//! is retried one write at a time, so each write gets its own outcome; a batch refused
//! because the database is unavailable (locked, full, failing) fails every write in it as
//! `Unavailable`, at once, as each would have alone. A write whose caller has gone before its
//! batch is written is not written.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use botbuilder_core::domain::{Message, NewMessage, Session, SessionStatus};
use botbuilder_core::id::{OrgId, SessionId};
use botbuilder_core::store::{StoreError, StoreResult};
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::error::store_err;
use crate::rows::conversations::{MessageRow, SessionRow, message_columns, session_columns};

/// The most writes committed together. Each message binds 12 values and each completion 7,
/// far below SQLite's 32,766 variables.
pub(super) const MAX_BATCH: usize = 64;

/// A message to store in a session (`append_message`; a model's reply also writes its
/// usage, in a transaction of the caller's).
#[derive(Debug)]
pub(super) struct MessageInsert {
    pub(super) id: Uuid,
    pub(super) org: OrgId,
    pub(super) session: SessionId,
    direction: &'static str,
    text: String,
    payload: String,
    intent: Option<String>,
    confidence: Option<f64>,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_micros: i64,
    /// When it was stored (µs since the epoch).
    now: i64,
}

impl MessageInsert {
    /// `new` as message `id` of `session` (of `org`), stored at `now` (µs since the epoch).
    pub(super) fn new(id: Uuid, org: OrgId, session: SessionId, new: NewMessage, now: i64) -> Self {
        let llm = new.llm.as_ref();
        Self {
            id,
            org,
            session,
            direction: new.direction.as_str(),
            payload: new.payload.to_string(),
            prompt_tokens: i64::from(llm.map_or(0, |c| c.prompt_tokens)),
            completion_tokens: i64::from(llm.map_or(0, |c| c.completion_tokens)),
            cost_micros: llm.map_or(0, |c| c.cost_micros),
            text: new.text,
            intent: new.intent,
            confidence: new.confidence.map(f64::from),
            now,
        }
    }
}

/// A turn's end (`complete_turn`): the session's new status and state, with its replies as
/// the outbox the `sessions_outbox` trigger stores, applied only at `expected_revision`.
#[derive(Debug)]
pub(super) struct TurnCompletion {
    pub(super) org: OrgId,
    pub(super) session: SessionId,
    pub(super) expected_revision: i64,
    pub(super) status: SessionStatus,
    /// The session state as stored (JSON).
    pub(super) state: String,
    /// The replies as the outbox trigger reads them (a JSON array), if any.
    pub(super) outbox: Option<String>,
    /// Last activity (µs since the epoch).
    pub(super) now: i64,
}

/// Inserts `rows`, each into its session when that session is its organization's (a row for
/// another organization's session is left out). Returns the stored messages, oldest first.
/// The `messages_touch_session` trigger marks each session active.
pub(super) async fn insert_messages<'e, E>(
    executor: E,
    rows: &[MessageInsert],
) -> StoreResult<Vec<Message>>
where
    E: sqlx::SqliteExecutor<'e>,
{
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        "INSERT INTO messages (id, organization_id, bot_id, session_id, direction, text,
                               payload, intent, confidence, prompt_tokens,
                               completion_tokens, cost_micros, created_at)
         SELECT v.column1, s.organization_id, s.bot_id, s.id, v.column4, v.column5, v.column6,
                v.column7, v.column8, v.column9, v.column10, v.column11, v.column12
         FROM (",
    );
    sql.push_values(rows, |mut values, row| {
        values
            .push_bind(row.id)
            .push_bind(row.org.as_uuid())
            .push_bind(row.session.as_uuid())
            .push_bind(row.direction)
            .push_bind(row.text.as_str())
            .push_bind(row.payload.as_str())
            .push_bind(row.intent.as_deref())
            .push_bind(row.confidence)
            .push_bind(row.prompt_tokens)
            .push_bind(row.completion_tokens)
            .push_bind(row.cost_micros)
            .push_bind(row.now);
    });
    sql.push(concat!(
        ") AS v JOIN sessions s ON s.organization_id = v.column2 AND s.id = v.column3
         RETURNING ",
        message_columns!()
    ));
    let mut messages = sql
        .build_query_as::<MessageRow>()
        .fetch_all(executor)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(Message::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    messages.sort_by_key(|m| m.id.as_uuid());
    Ok(messages)
}

/// Applies each completion whose session is its organization's and still at its expected
/// revision, in one statement; returns the sessions as saved (a completion that did not apply
/// has none). The `sessions_outbox` trigger stores each outbox's replies.
pub(super) async fn complete_turns<'e, E>(
    executor: E,
    completions: &[TurnCompletion],
) -> StoreResult<Vec<Session>>
where
    E: sqlx::SqliteExecutor<'e>,
{
    if completions.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        "UPDATE sessions SET status = v.column4, state = v.column5,
                revision = sessions.revision + 1, last_activity_at = v.column6,
                outbox = v.column7
         FROM (",
    );
    sql.push_values(completions, |mut values, completion| {
        values
            .push_bind(completion.org.as_uuid())
            .push_bind(completion.session.as_uuid())
            .push_bind(completion.expected_revision)
            .push_bind(completion.status.as_str())
            .push_bind(completion.state.as_str())
            .push_bind(completion.now)
            .push_bind(completion.outbox.as_deref());
    });
    sql.push(concat!(
        ") AS v WHERE sessions.organization_id = v.column1 AND sessions.id = v.column2
                  AND sessions.revision = v.column3
         RETURNING ",
        session_columns!()
    ));
    sql.build_query_as::<SessionRow>()
        .fetch_all(executor)
        .await
        .map_err(store_err)?
        .into_iter()
        .map(Session::try_from)
        .collect()
}

/// One write waiting for the writer, with where its outcome goes.
enum Write {
    /// `None`: the session is not the organization's.
    Append(MessageInsert, Done<Message>),
    /// `None`: not the organization's session, or not at the expected revision.
    Complete(TurnCompletion, Done<Session>),
}

/// Where a write's outcome goes (`None`: it did not apply).
type Done<T> = oneshot::Sender<StoreResult<Option<T>>>;

impl Write {
    fn session(&self) -> SessionId {
        match self {
            Write::Append(row, _) => row.session,
            Write::Complete(completion, _) => completion.session,
        }
    }

    /// Whether the caller stopped waiting for it.
    fn abandoned(&self) -> bool {
        match self {
            Write::Append(_, done) => done.is_closed(),
            Write::Complete(_, done) => done.is_closed(),
        }
    }

    /// Writes this alone, without a transaction (one statement is atomic), and reports.
    async fn write_alone(self, writer: &SqlitePool) {
        match self {
            Write::Append(row, done) => {
                let outcome = insert_messages(writer, std::slice::from_ref(&row)).await;
                let _caller_may_be_gone = done.send(outcome.map(|mut stored| stored.pop()));
            }
            Write::Complete(completion, done) => {
                let outcome = complete_turns(writer, std::slice::from_ref(&completion)).await;
                let _caller_may_be_gone = done.send(outcome.map(|mut saved| saved.pop()));
            }
        }
    }
}

/// Commits concurrent turn writes to `writer` together (see the module docs). Its committing
/// task starts with the first write, again after the runtime it ran on stopped, and ends when
/// this is dropped and the writes queued are written.
#[derive(Debug)]
pub(super) struct GroupCommit {
    writer: SqlitePool,
    queue: Mutex<Option<mpsc::UnboundedSender<Write>>>,
    counts: Arc<Counts>,
}

/// What the committing task has done so far.
#[derive(Debug, Default)]
struct Counts {
    /// Writes handed to the task.
    queued: AtomicUsize,
    /// Batches it wrote (a write alone counts as one).
    batches: AtomicUsize,
    /// Writes written again alone after their batch was refused.
    retried: AtomicUsize,
}

impl GroupCommit {
    /// Group commit on `writer` (the store's only writing connection).
    pub(super) fn new(writer: SqlitePool) -> Self {
        Self {
            writer,
            queue: Mutex::new(None),
            counts: Arc::default(),
        }
    }

    /// Stores `row` with whatever other turn writes are waiting; `None` when its session is
    /// not its organization's.
    pub(super) async fn append(&self, row: MessageInsert) -> StoreResult<Option<Message>> {
        let (done, outcome) = oneshot::channel();
        self.write(Write::Append(row, done)).await;
        received(outcome).await
    }

    /// Applies `completion` with whatever other turn writes are waiting; `None` when it did
    /// not apply (another organization's session, or a stale revision).
    pub(super) async fn complete(
        &self,
        completion: TurnCompletion,
    ) -> StoreResult<Option<Session>> {
        let (done, outcome) = oneshot::channel();
        self.write(Write::Complete(completion, done)).await;
        received(outcome).await
    }

    /// Queues `write` for the committing task, starting one on the caller's Tokio runtime if
    /// there is none (first use, or the runtime it ran on stopped).
    async fn write(&self, write: Write) {
        let queued = {
            let mut queue = self.queue.lock().expect("group commit queue poisoned");
            if queue.as_ref().is_some_and(mpsc::UnboundedSender::is_closed) {
                *queue = None;
            }
            let queue = queue.get_or_insert_with(|| {
                let (sender, waiting) = mpsc::unbounded_channel();
                let task = commit_waiting(self.writer.clone(), waiting, self.counts.clone());
                // On the caller's runtime: sqlx's pools need Tokio already.
                tokio::spawn(task);
                sender
            });
            // Counted before the task can take it, so a count never trails the batches.
            self.counts.queued.fetch_add(1, Ordering::SeqCst);
            queue.send(write).map_err(|unsent| unsent.0)
        };
        if let Err(unsent) = queued {
            self.counts.queued.fetch_sub(1, Ordering::SeqCst);
            unsent.write_alone(&self.writer).await;
        }
    }
}

/// The outcome of a write; a committing task stopped midway (its runtime shut down) leaves
/// it unknown.
async fn received<T>(outcome: oneshot::Receiver<StoreResult<Option<T>>>) -> StoreResult<Option<T>> {
    outcome.await.unwrap_or_else(|_| {
        Err(StoreError::Unavailable(
            "the store's writer stopped before the write was confirmed".into(),
        ))
    })
}

/// The committing task: takes every waiting write (up to [`MAX_BATCH`], one per session,
/// leaving out those whose caller has gone) and commits them, until every sender is gone.
async fn commit_waiting(
    writer: SqlitePool,
    mut waiting: mpsc::UnboundedReceiver<Write>,
    counts: Arc<Counts>,
) {
    let mut next: Vec<Write> = Vec::new();
    loop {
        if next.is_empty() && waiting.recv_many(&mut next, MAX_BATCH).await == 0 {
            return;
        }
        while next.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(write) => next.push(write),
                Err(_) => break,
            }
        }
        next.retain(|write| !write.abandoned());
        // A session's second write waits for the next batch, behind its first.
        let mut sessions = HashSet::with_capacity(next.len());
        let (batch, later): (Vec<Write>, Vec<Write>) = std::mem::take(&mut next)
            .into_iter()
            .partition(|write| sessions.insert(write.session()));
        next = later;
        if batch.is_empty() {
            continue;
        }
        counts.batches.fetch_add(1, Ordering::SeqCst);
        if batch.len() == 1 {
            if let Some(write) = batch.into_iter().next() {
                write.write_alone(&writer).await;
            }
        } else {
            commit(&writer, batch, &counts).await;
        }
    }
}

/// Commits `batch` (one write per session) in one transaction and tells each write its
/// outcome; after a failure, writes each alone.
async fn commit(writer: &SqlitePool, batch: Vec<Write>, counts: &Counts) {
    let mut rows = Vec::new();
    let mut appended = Vec::new();
    let mut completions = Vec::new();
    let mut completed = Vec::new();
    for write in batch {
        match write {
            Write::Append(row, done) => {
                rows.push(row);
                appended.push(done);
            }
            Write::Complete(completion, done) => {
                completions.push(completion);
                completed.push(done);
            }
        }
    }
    match in_one_transaction(writer, &rows, &completions).await {
        Ok((messages, sessions)) => {
            let mut messages: HashMap<Uuid, Message> =
                messages.into_iter().map(|m| (m.id.as_uuid(), m)).collect();
            let mut sessions: HashMap<SessionId, Session> =
                sessions.into_iter().map(|s| (s.id, s)).collect();
            for (row, done) in rows.iter().zip(appended) {
                let _caller_may_be_gone = done.send(Ok(messages.remove(&row.id)));
            }
            for (completion, done) in completions.iter().zip(completed) {
                let _caller_may_be_gone = done.send(Ok(sessions.remove(&completion.session)));
            }
        }
        Err(StoreError::Unavailable(error)) => {
            // The database, not a write: each would have failed alone.
            tracing::warn!(%error, writes = appended.len() + completed.len(), "group commit failed");
            let unavailable = || {
                StoreError::Unavailable(format!("the database refused the write: {error}").into())
            };
            for done in appended {
                let _caller_may_be_gone = done.send(Err(unavailable()));
            }
            for done in completed {
                let _caller_may_be_gone = done.send(Err(unavailable()));
            }
        }
        Err(error) => {
            // Nothing of the batch was stored. Each write again on its own, so that one
            // write's failure is not the others'.
            tracing::debug!(%error, "group commit refused; writing one at a time");
            let writes = appended.len() + completed.len();
            counts.retried.fetch_add(writes, Ordering::SeqCst);
            for (row, done) in rows.into_iter().zip(appended) {
                Write::Append(row, done).write_alone(writer).await;
            }
            for (completion, done) in completions.into_iter().zip(completed) {
                Write::Complete(completion, done).write_alone(writer).await;
            }
        }
    }
}

/// Every write of a batch in one `BEGIN IMMEDIATE` transaction (see `write_transaction`).
async fn in_one_transaction(
    writer: &SqlitePool,
    rows: &[MessageInsert],
    completions: &[TurnCompletion],
) -> StoreResult<(Vec<Message>, Vec<Session>)> {
    let mut tx = writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(store_err)?;
    let messages = insert_messages(&mut *tx, rows).await?;
    let sessions = complete_turns(&mut *tx, completions).await?;
    tx.commit().await.map_err(store_err)?;
    Ok((messages, sessions))
}

#[cfg(test)]
mod tests;
