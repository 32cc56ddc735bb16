-- Connected messaging channels (a Telegram bot, a WhatsApp number, a Slack app) and the
-- outbox of replies to them.
CREATE TABLE channels (
    id                BLOB PRIMARY KEY NOT NULL,
    organization_id   BLOB NOT NULL,
    bot_id            BLOB NOT NULL,
    kind              TEXT NOT NULL,            -- telegram | whatsapp | slack
    name              TEXT NOT NULL,
    session_channel   TEXT NOT NULL UNIQUE,     -- `kind:id`, the `channel` of its sessions
    settings          TEXT NOT NULL,            -- JSON, nothing secret
    key_id            TEXT NOT NULL,            -- the sealed secret settings (AES-256-GCM)
    nonce             BLOB NOT NULL,
    ciphertext        BLOB NOT NULL,
    status            TEXT NOT NULL,            -- connected | polling | error
    last_error        TEXT,
    last_inbound_at   INTEGER,                  -- µs
    last_outbound_at  INTEGER,                  -- µs
    created_at        INTEGER NOT NULL,         -- µs
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX channels_bot ON channels(organization_id, bot_id, id);

-- One row per reply to a connected channel, written by the trigger below in the statement
-- that stores the message: a stored reply is never forgotten, whatever crashes after.
CREATE TABLE deliveries (
    message_id        BLOB PRIMARY KEY NOT NULL,
    organization_id   BLOB NOT NULL,
    channel_id        BLOB NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    session_id        BLOB NOT NULL,
    state             TEXT NOT NULL DEFAULT 'pending',  -- pending | sent | failed | skipped
    parts_sent        INTEGER NOT NULL DEFAULT 0,
    platform_status   TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,         -- µs
    sent_at           INTEGER,                  -- µs
    FOREIGN KEY (organization_id, message_id) REFERENCES messages(organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX deliveries_session ON deliveries(session_id, state, message_id);
CREATE INDEX deliveries_pending ON deliveries(state, created_at) WHERE state = 'pending';

-- The platform's ids of a delivery's parts (to resolve a button pressed on one of them, and
-- to record the platform's delivery statuses).
CREATE TABLE delivery_parts (
    channel_id        BLOB NOT NULL,
    external_id       TEXT NOT NULL,
    message_id        BLOB NOT NULL REFERENCES deliveries(message_id) ON DELETE CASCADE,
    position          INTEGER NOT NULL,
    PRIMARY KEY (channel_id, external_id)
) STRICT;
CREATE INDEX delivery_parts_message ON delivery_parts(message_id, position);

CREATE TRIGGER messages_outbox AFTER INSERT ON messages
WHEN NEW.direction IN ('outbound', 'agent')
BEGIN
    INSERT INTO deliveries (message_id, organization_id, channel_id, session_id, created_at)
    SELECT NEW.id, NEW.organization_id, c.id, NEW.session_id, NEW.created_at
    FROM sessions s JOIN channels c ON c.session_channel = s.channel
    WHERE s.id = NEW.session_id AND c.organization_id = NEW.organization_id;
END;
