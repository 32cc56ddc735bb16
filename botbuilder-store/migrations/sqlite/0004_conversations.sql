-- Conversations: sessions (with the flow executor's state), messages, feedback.

CREATE TABLE sessions (
    id               BLOB PRIMARY KEY NOT NULL,
    organization_id  BLOB NOT NULL,
    bot_id           BLOB NOT NULL,
    channel          TEXT NOT NULL,
    external_user    TEXT NOT NULL,
    flow_version     INTEGER,
    status           TEXT NOT NULL,           -- active | handoff | ended
    state            TEXT NOT NULL,           -- JSON SessionState
    revision         INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX sessions_user ON sessions(bot_id, channel, external_user, last_activity_at);
CREATE INDEX sessions_bot_status ON sessions(bot_id, status, id);
CREATE UNIQUE INDEX sessions_org_id ON sessions(organization_id, id);

CREATE TABLE messages (
    id                BLOB PRIMARY KEY NOT NULL,
    organization_id   BLOB NOT NULL,
    bot_id            BLOB NOT NULL,
    session_id        BLOB NOT NULL,
    direction         TEXT NOT NULL,          -- inbound | outbound | agent
    text              TEXT NOT NULL,
    payload           TEXT NOT NULL,          -- JSON
    intent            TEXT,
    confidence        REAL,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros       INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    FOREIGN KEY (organization_id, session_id) REFERENCES sessions(organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX messages_session ON messages(session_id, id);
CREATE UNIQUE INDEX messages_org_id ON messages(organization_id, id);

CREATE TABLE message_feedback (
    message_id      BLOB PRIMARY KEY NOT NULL,
    id              BLOB NOT NULL,
    organization_id BLOB NOT NULL,
    rating          TEXT NOT NULL,            -- up | down
    comment         TEXT,
    created_at      INTEGER NOT NULL,
    FOREIGN KEY (organization_id, message_id) REFERENCES messages(organization_id, id) ON DELETE CASCADE
) STRICT;
