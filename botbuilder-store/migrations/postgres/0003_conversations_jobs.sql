-- Conversations (sessions with the flow executor's state, their messages, feedback on
-- messages) and the durable job queue with its enqueue-once keys: the final shape of SQLite
-- migrations 0004, 0006, 0007, 0009 and 0015 (0012, 0014 and 0016 only add triggers that
-- write other tables; see below). Conventions as in 0001: uuid ids, bigint µs times, JSON as
-- text, row-level security on every table carrying `organization_id`.
--
-- Left out, on purpose:
-- - SQLite's `sessions.outbox` column and its `sessions_outbox` trigger (0007, 0012, 0016),
--   and the `messages_touch_session` trigger (0006). They made a turn, and an appended
--   message, one SQLite statement (one round trip to its writer thread). Here a turn is one
--   transaction of plain statements (src/postgres/conversations.rs): lock the session, store
--   the replies and their usage, then update the session; appending a message marks its
--   session active in the same transaction. All or nothing, as before.
-- - The triggers of SQLite 0014 (a reply into a channel's delivery outbox) and 0016 (webhook
--   events of sessions, messages and feedback) fire on these tables but write tables of later
--   files (0005 channels and webhooks), which create them. A turn stores its replies before
--   it updates the session's status, so a turn's message events precede its handoff event.

CREATE TABLE sessions (
    id               uuid PRIMARY KEY,
    organization_id  uuid NOT NULL,
    bot_id           uuid NOT NULL,
    channel          text NOT NULL,
    external_user    text NOT NULL,
    flow_version     bigint,
    status           text NOT NULL,           -- active | handoff | ended
    state            text NOT NULL,           -- JSON SessionState
    revision         bigint NOT NULL DEFAULT 0,
    created_at       bigint NOT NULL,
    last_activity_at bigint NOT NULL,
    UNIQUE (organization_id, id),
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions(bot_id, channel, external_user, last_activity_at);
CREATE INDEX sessions_bot_status ON sessions(bot_id, status, id);
-- Listing a bot's sessions of every status, newest first (SQLite makes do with the above).
CREATE INDEX sessions_bot ON sessions(bot_id, id);

CREATE TABLE messages (
    id                uuid PRIMARY KEY,       -- UUIDv7: the order within a session
    organization_id   uuid NOT NULL,
    bot_id            uuid NOT NULL,
    session_id        uuid NOT NULL,
    direction         text NOT NULL,          -- inbound | outbound | agent
    text              text NOT NULL,
    payload           text NOT NULL,          -- JSON
    intent            text,
    confidence        double precision,
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    cost_micros       bigint NOT NULL DEFAULT 0,
    created_at        bigint NOT NULL,
    UNIQUE (organization_id, id),
    FOREIGN KEY (organization_id, session_id) REFERENCES sessions(organization_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_session ON messages(session_id, id);

CREATE TABLE message_feedback (
    message_id      uuid PRIMARY KEY,
    id              uuid NOT NULL,
    organization_id uuid NOT NULL,
    rating          text NOT NULL,            -- up | down
    comment         text,
    created_at      bigint NOT NULL,
    FOREIGN KEY (organization_id, message_id) REFERENCES messages(organization_id, id) ON DELETE CASCADE
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sessions', 'messages', 'message_feedback'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant ON %I
                 USING (organization_id = botbuilder_tenant() OR botbuilder_system())
                 WITH CHECK (organization_id = botbuilder_tenant() OR botbuilder_system())', t);
    END LOOP;
END
$$;

-- The durable job queue: a restart resumes pending work. Jobs belong to no organization (a
-- payload may name one), so they have no row-level security: workers of every tenant's jobs
-- lease them outside any tenant's transaction.
CREATE TABLE jobs (
    id           uuid PRIMARY KEY,            -- UUIDv7: enqueue order
    kind         text NOT NULL,
    payload      text NOT NULL,               -- JSON
    max_attempts bigint NOT NULL,
    attempts     bigint NOT NULL DEFAULT 0,
    available_at bigint NOT NULL,             -- µs; not before
    leased_until bigint,                      -- µs; set while a worker holds it
    dead         boolean NOT NULL DEFAULT false,
    last_error   text
);
-- Live jobs in the order `reserve` hands them out; dead letters oldest first.
CREATE INDEX jobs_ready ON jobs(kind, available_at, id) WHERE NOT dead;
CREATE INDEX jobs_dead ON jobs(id) WHERE dead;

-- Keys of `JobQueue::enqueue_once`: a platform's event id, so a redelivered webhook is
-- enqueued (and so processed) once. Kept for a week, then pruned.
CREATE TABLE job_keys (
    key          text PRIMARY KEY,
    job_id       uuid NOT NULL,
    recorded_at  bigint NOT NULL              -- µs
);
CREATE INDEX job_keys_recorded ON job_keys(recorded_at);
