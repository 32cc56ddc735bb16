-- Customers' webhook endpoints, the outbox of events for them, and each event's delivery to
-- each endpoint (Standard Webhooks). The triggers below record an event in the transaction
-- that makes the change, while the organization has an enabled endpoint subscribed to it.
CREATE TABLE webhook_endpoints (
    id                          BLOB PRIMARY KEY NOT NULL,
    organization_id             BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url                         TEXT NOT NULL,
    description                 TEXT NOT NULL,
    events                      TEXT NOT NULL,    -- JSON array of event types
    enabled                     INTEGER NOT NULL,
    disabled_reason             TEXT,
    key_id                      TEXT NOT NULL,    -- the sealed signing secret (AES-256-GCM)
    nonce                       BLOB NOT NULL,
    ciphertext                  BLOB NOT NULL,
    previous_key_id             TEXT,             -- the secret before the last rotation
    previous_nonce              BLOB,
    previous_ciphertext         BLOB,
    previous_secret_expires_at  INTEGER,          -- µs
    created_at                  INTEGER NOT NULL, -- µs
    updated_at                  INTEGER NOT NULL  -- µs
) STRICT;
CREATE INDEX webhook_endpoints_org ON webhook_endpoints(organization_id, id);

CREATE TABLE webhook_events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order events happened in
    organization_id  BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    type             TEXT NOT NULL,
    session_id       BLOB,
    subject_id       BLOB NOT NULL,
    created_at       INTEGER NOT NULL,                   -- µs
    event_id         BLOB UNIQUE,                        -- set when rendered
    payload          TEXT                                -- JSON, set when rendered
) STRICT;
CREATE INDEX webhook_events_unrendered ON webhook_events(seq) WHERE payload IS NULL;

CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY NOT NULL,
    organization_id  BLOB NOT NULL,
    endpoint_id      BLOB NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_seq        INTEGER NOT NULL REFERENCES webhook_events(seq) ON DELETE CASCADE,
    order_key        BLOB NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending',    -- pending | succeeded | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    attempt_log      TEXT NOT NULL DEFAULT '[]',         -- JSON array, newest 20
    next_attempt_at  INTEGER,                            -- µs, pending only
    leased_until     INTEGER,                            -- µs
    lease_id         BLOB,                               -- the holder's token
    created_at       INTEGER NOT NULL,                   -- µs
    delivered_at     INTEGER,                            -- µs
    UNIQUE (endpoint_id, event_seq)
) STRICT;
CREATE INDEX webhook_deliveries_order ON webhook_deliveries(endpoint_id, order_key, event_seq)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);

CREATE TRIGGER webhook_conversation_started AFTER INSERT ON sessions
WHEN EXISTS (SELECT 1 FROM webhook_endpoints w, json_each(w.events) e
             WHERE w.organization_id = NEW.organization_id AND w.enabled = 1 AND e.value = 'conversation.started')
BEGIN
    INSERT INTO webhook_events (organization_id, type, session_id, subject_id, created_at)
    VALUES (NEW.organization_id, 'conversation.started', NEW.id, NEW.id, NEW.created_at);
END;

CREATE TRIGGER webhook_conversation_handoff AFTER UPDATE OF status ON sessions
WHEN NEW.status = 'handoff' AND OLD.status != 'handoff'
    AND EXISTS (SELECT 1 FROM webhook_endpoints w, json_each(w.events) e
             WHERE w.organization_id = NEW.organization_id AND w.enabled = 1 AND e.value = 'conversation.handoff')
BEGIN
    INSERT INTO webhook_events (organization_id, type, session_id, subject_id, created_at)
    VALUES (NEW.organization_id, 'conversation.handoff', NEW.id, NEW.id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER webhook_conversation_released AFTER UPDATE OF status ON sessions
WHEN OLD.status = 'handoff' AND NEW.status != 'handoff'
    AND EXISTS (SELECT 1 FROM webhook_endpoints w, json_each(w.events) e
             WHERE w.organization_id = NEW.organization_id AND w.enabled = 1 AND e.value = 'conversation.released')
BEGIN
    INSERT INTO webhook_events (organization_id, type, session_id, subject_id, created_at)
    VALUES (NEW.organization_id, 'conversation.released', NEW.id, NEW.id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER webhook_message AFTER INSERT ON messages
WHEN EXISTS (SELECT 1 FROM webhook_endpoints w, json_each(w.events) e
             WHERE w.organization_id = NEW.organization_id AND w.enabled = 1 AND e.value = CASE NEW.direction WHEN 'inbound' THEN 'message.received' ELSE 'message.sent' END)
BEGIN
    INSERT INTO webhook_events (organization_id, type, session_id, subject_id, created_at)
    VALUES (NEW.organization_id,
            CASE NEW.direction WHEN 'inbound' THEN 'message.received' ELSE 'message.sent' END,
            NEW.session_id, NEW.id, NEW.created_at);
END;

CREATE TRIGGER webhook_feedback_created AFTER INSERT ON message_feedback
WHEN EXISTS (SELECT 1 FROM webhook_endpoints w, json_each(w.events) e
             WHERE w.organization_id = NEW.organization_id AND w.enabled = 1 AND e.value = 'feedback.created')
BEGIN
    INSERT INTO webhook_events (organization_id, type, session_id, subject_id, created_at)
    SELECT NEW.organization_id, 'feedback.created', m.session_id, NEW.message_id, NEW.created_at
    FROM messages m WHERE m.id = NEW.message_id;
END;

CREATE TRIGGER webhook_feedback_replaced AFTER UPDATE ON message_feedback
WHEN EXISTS (SELECT 1 FROM webhook_endpoints w, json_each(w.events) e
             WHERE w.organization_id = NEW.organization_id AND w.enabled = 1 AND e.value = 'feedback.created')
BEGIN
    INSERT INTO webhook_events (organization_id, type, session_id, subject_id, created_at)
    SELECT NEW.organization_id, 'feedback.created', m.session_id, NEW.message_id, NEW.created_at
    FROM messages m WHERE m.id = NEW.message_id;
END;

CREATE TRIGGER webhook_document_done AFTER UPDATE OF status ON documents
WHEN NEW.status IN ('ready', 'failed') AND OLD.status != NEW.status
    AND EXISTS (SELECT 1 FROM webhook_endpoints w, json_each(w.events) e
             WHERE w.organization_id = NEW.organization_id AND w.enabled = 1 AND e.value = 'document.' || NEW.status)
BEGIN
    INSERT INTO webhook_events (organization_id, type, session_id, subject_id, created_at)
    VALUES (NEW.organization_id, 'document.' || NEW.status, NULL, NEW.id, NEW.updated_at);
END;

-- Within one turn the replies' events come before the handoff's: SQLite fires the newest
-- trigger of a statement first, so the trigger storing the replies (0007) is created again
-- after the status triggers above, unchanged from 0012. The conformance suite checks the order.
DROP TRIGGER sessions_outbox;
CREATE TRIGGER sessions_outbox AFTER UPDATE OF outbox ON sessions
WHEN NEW.outbox IS NOT NULL
BEGIN
    INSERT INTO messages (id, organization_id, bot_id, session_id, direction, text, payload,
                          intent, confidence, prompt_tokens, completion_tokens, cost_micros,
                          created_at)
    SELECT unhex(json_extract(r.value, '$.id')), NEW.organization_id, NEW.bot_id, NEW.id,
           json_extract(r.value, '$.direction'), json_extract(r.value, '$.text'),
           json_extract(r.value, '$.payload'), json_extract(r.value, '$.intent'),
           json_extract(r.value, '$.confidence'), json_extract(r.value, '$.prompt_tokens'),
           json_extract(r.value, '$.completion_tokens'), json_extract(r.value, '$.cost_micros'),
           NEW.last_activity_at
    FROM json_each(NEW.outbox) AS r
    ORDER BY r.key;
    INSERT INTO llm_usage (id, organization_id, bot_id, provider, model, prompt_tokens,
                           completion_tokens, cost_micros, estimated, created_at)
    SELECT unhex(json_extract(r.value, '$.id')), NEW.organization_id, NEW.bot_id,
           json_extract(r.value, '$.llm.provider'), json_extract(r.value, '$.llm.model'),
           json_extract(r.value, '$.prompt_tokens'), json_extract(r.value, '$.completion_tokens'),
           json_extract(r.value, '$.cost_micros'), json_extract(r.value, '$.llm.estimated'),
           NEW.last_activity_at
    FROM json_each(NEW.outbox) AS r
    WHERE json_type(r.value, '$.llm') = 'object';
    UPDATE sessions SET outbox = NULL WHERE id = NEW.id;
END;
