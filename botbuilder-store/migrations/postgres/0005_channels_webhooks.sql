-- Connected messaging channels with the outbox of replies to them, and customers' webhook
-- endpoints with the outbox of events for them and each event's delivery to each endpoint:
-- the final shape of SQLite migrations 0014 and 0016, with their triggers (the outboxes are
-- written in the transaction that makes the change, whatever crashes after). Conventions as
-- in 0001: uuid ids, bigint µs times, JSON as text, row-level security on every table
-- carrying `organization_id`. The trigger functions run as the caller (the application role) in
-- the caller's transaction, and every row they write carries the organization of the row
-- that fired them, so it passes the tenant policy.
--
-- Differences from SQLite:
-- - `delivery_parts` also carries `organization_id` (copied from its delivery), so that it
--   too is behind the tenant policy.
-- - Indexes SQLite does without, for the foreign keys Postgres does not index itself:
--   `deliveries(channel_id)` (disconnecting a channel) and `webhook_deliveries(event_seq)`
--   (dropping and pruning events).
-- - SQLite's trigger `WHEN EXISTS (… endpoint subscribed …)` conditions hold subqueries,
--   which a Postgres `WHEN` cannot: the functions test them instead.
-- - Event numbers in commit order: see `botbuilder_record_webhook_event` below.

-- Connected messaging channels (a Telegram bot, a WhatsApp number, a Slack app).
CREATE TABLE channels (
    id                uuid PRIMARY KEY,
    organization_id   uuid NOT NULL,
    bot_id            uuid NOT NULL,
    kind              text NOT NULL,            -- telegram | whatsapp | slack
    name              text NOT NULL,
    session_channel   text NOT NULL UNIQUE,     -- `kind:id`, the `channel` of its sessions
    settings          text NOT NULL,            -- JSON, nothing secret
    key_id            text NOT NULL,            -- the sealed secret settings (AES-256-GCM)
    nonce             bytea NOT NULL,
    ciphertext        bytea NOT NULL,
    status            text NOT NULL,            -- connected | polling | error
    last_error        text,
    last_inbound_at   bigint,                   -- µs
    last_outbound_at  bigint,                   -- µs
    created_at        bigint NOT NULL,          -- µs
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
);
CREATE INDEX channels_bot ON channels(organization_id, bot_id, id);

-- One row per reply to a connected channel, written by the trigger `messages_outbox` below
-- in the statement that stores the message.
CREATE TABLE deliveries (
    message_id        uuid PRIMARY KEY,
    organization_id   uuid NOT NULL,
    channel_id        uuid NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    session_id        uuid NOT NULL,
    state             text NOT NULL DEFAULT 'pending',  -- pending | sent | failed | skipped
    parts_sent        bigint NOT NULL DEFAULT 0,
    platform_status   text,
    attempts          bigint NOT NULL DEFAULT 0,
    last_error        text,
    created_at        bigint NOT NULL,          -- µs
    sent_at           bigint,                   -- µs
    FOREIGN KEY (organization_id, message_id) REFERENCES messages(organization_id, id) ON DELETE CASCADE
);
CREATE INDEX deliveries_session ON deliveries(session_id, state, message_id);
CREATE INDEX deliveries_pending ON deliveries(state, created_at) WHERE state = 'pending';
CREATE INDEX deliveries_channel ON deliveries(channel_id);

-- The platform's ids of a delivery's parts (to resolve a button pressed on one of them, and
-- to record the platform's delivery statuses).
CREATE TABLE delivery_parts (
    channel_id        uuid NOT NULL,
    external_id       text NOT NULL,
    organization_id   uuid NOT NULL,            -- its delivery's
    message_id        uuid NOT NULL REFERENCES deliveries(message_id) ON DELETE CASCADE,
    position          bigint NOT NULL,
    PRIMARY KEY (channel_id, external_id)
);
CREATE INDEX delivery_parts_message ON delivery_parts(message_id, position);

-- Customers' webhook endpoints (Standard Webhooks).
CREATE TABLE webhook_endpoints (
    id                          uuid PRIMARY KEY,
    organization_id             uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url                         text NOT NULL,
    description                 text NOT NULL,
    events                      text NOT NULL,    -- JSON array of event types
    enabled                     boolean NOT NULL,
    disabled_reason             text,
    key_id                      text NOT NULL,    -- the sealed signing secret (AES-256-GCM)
    nonce                       bytea NOT NULL,
    ciphertext                  bytea NOT NULL,
    previous_key_id             text,             -- the secret before the last rotation
    previous_nonce              bytea,
    previous_ciphertext         bytea,
    previous_secret_expires_at  bigint,           -- µs
    created_at                  bigint NOT NULL,  -- µs
    updated_at                  bigint NOT NULL   -- µs
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints(organization_id, id);

-- The outbox of events, written by the triggers below while the organization has an enabled
-- endpoint subscribed to the type.
CREATE TABLE webhook_events (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the order events happened in
    organization_id  uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    type             text NOT NULL,
    session_id       uuid,
    subject_id       uuid NOT NULL,
    created_at       bigint NOT NULL,                   -- µs
    event_id         uuid UNIQUE,                       -- set when rendered
    payload          text                               -- JSON, set when rendered
);
CREATE INDEX webhook_events_unrendered ON webhook_events(seq) WHERE payload IS NULL;
CREATE INDEX webhook_events_org ON webhook_events(organization_id);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    organization_id  uuid NOT NULL,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_seq        bigint NOT NULL REFERENCES webhook_events(seq) ON DELETE CASCADE,
    order_key        uuid NOT NULL,
    state            text NOT NULL DEFAULT 'pending',   -- pending | succeeded | failed
    attempts         bigint NOT NULL DEFAULT 0,
    attempt_log      text NOT NULL DEFAULT '[]',        -- JSON array, newest 20
    next_attempt_at  bigint,                            -- µs, pending only
    leased_until     bigint,                            -- µs
    lease_id         uuid,                              -- the holder's token
    created_at       bigint NOT NULL,                   -- µs
    delivered_at     bigint,                            -- µs
    UNIQUE (endpoint_id, event_seq)
);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries(endpoint_id, order_key, event_seq)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_seq);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['channels', 'deliveries', 'delivery_parts', 'webhook_endpoints',
                             'webhook_events', 'webhook_deliveries'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant ON %I
                 USING (organization_id = botbuilder_tenant() OR botbuilder_system())
                 WITH CHECK (organization_id = botbuilder_tenant() OR botbuilder_system())', t);
    END LOOP;
END
$$;

-- The channel outbox: every reply (bot or agent) stored in a connected channel's session
-- gets a pending delivery, in the statement that stores it.
CREATE FUNCTION botbuilder_channel_outbox() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO deliveries (message_id, organization_id, channel_id, session_id, created_at)
    SELECT NEW.id, NEW.organization_id, c.id, NEW.session_id, NEW.created_at
    FROM sessions s JOIN channels c ON c.session_channel = s.channel
    WHERE s.id = NEW.session_id AND c.organization_id = NEW.organization_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_outbox AFTER INSERT ON messages
    FOR EACH ROW WHEN (NEW.direction IN ('outbound', 'agent'))
    EXECUTE FUNCTION botbuilder_channel_outbox();

-- Records a webhook event of `event_type`, if the organization has an enabled endpoint
-- subscribed to it.
--
-- Commit order. A sequence hands out numbers when rows are inserted, not when their
-- transactions commit: two writers could commit 11 before 10, and a relay that fanned out 11
-- before 10 was visible would deliver them out of order. Order only matters within one order
-- (`COALESCE(session_id, subject_id)`, a delivery's `order_key`), so every writer of an
-- order's event takes a transaction-scoped advisory lock on that order before it takes its
-- number, and holds it until it commits or aborts: an order's events are numbered in commit
-- order. Different conversations never wait for each other (a 32-bit hash collision only
-- makes two of them take turns). The lock is taken by the trigger of the writer's own
-- statement, after the row locks that statement took; writers of a conversation lock its
-- session row before they write (0003), so no two of them wait for each other's locks in
-- opposite orders.
CREATE FUNCTION botbuilder_record_webhook_event(
    event_org uuid, event_type text, event_session uuid, event_subject uuid, event_at bigint
) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_endpoints w
                   WHERE w.organization_id = event_org AND w.enabled
                     AND w.events::jsonb ? event_type) THEN
        RETURN;
    END IF;
    -- 1752133483 is 'hook' in ASCII: the webhook orders' class of advisory locks.
    PERFORM pg_advisory_xact_lock(1752133483,
                                  hashtext(COALESCE(event_session, event_subject)::text));
    INSERT INTO webhook_events (organization_id, type, session_id, subject_id, created_at)
    VALUES (event_org, event_type, event_session, event_subject, event_at);
END
$$;

-- `conversation.started` when a session is created (at its creation time); the type named by
-- the trigger's argument, now, when its status changes.
CREATE FUNCTION botbuilder_webhook_session_event() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM botbuilder_record_webhook_event(
        NEW.organization_id, TG_ARGV[0], NEW.id, NEW.id,
        CASE TG_OP
            WHEN 'INSERT' THEN NEW.created_at
            ELSE (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
        END);
    RETURN NULL;
END
$$;

-- `message.received` for an inbound message, `message.sent` for a reply (bot or agent).
CREATE FUNCTION botbuilder_webhook_message_event() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM botbuilder_record_webhook_event(
        NEW.organization_id,
        CASE NEW.direction WHEN 'inbound' THEN 'message.received' ELSE 'message.sent' END,
        NEW.session_id, NEW.id, NEW.created_at);
    RETURN NULL;
END
$$;

-- `feedback.created` when feedback is recorded, also when it replaces earlier feedback.
CREATE FUNCTION botbuilder_webhook_feedback_event() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    feedback_session uuid;
BEGIN
    SELECT m.session_id INTO feedback_session FROM messages m WHERE m.id = NEW.message_id;
    IF FOUND THEN
        PERFORM botbuilder_record_webhook_event(
            NEW.organization_id, 'feedback.created', feedback_session, NEW.message_id,
            NEW.created_at);
    END IF;
    RETURN NULL;
END
$$;

-- `document.ready` / `document.failed` when a document's status becomes one of them.
CREATE FUNCTION botbuilder_webhook_document_event() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM botbuilder_record_webhook_event(
        NEW.organization_id, 'document.' || NEW.status, NULL, NEW.id, NEW.updated_at);
    RETURN NULL;
END
$$;


-- Within one turn the replies' events come before the handoff's: a turn stores its replies
-- before it updates the session's status (0003, src/postgres/conversations.rs).
CREATE TRIGGER webhook_conversation_started AFTER INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION botbuilder_webhook_session_event('conversation.started');
CREATE TRIGGER webhook_conversation_handoff AFTER UPDATE OF status ON sessions
    FOR EACH ROW WHEN (NEW.status = 'handoff' AND OLD.status <> 'handoff')
    EXECUTE FUNCTION botbuilder_webhook_session_event('conversation.handoff');
CREATE TRIGGER webhook_conversation_released AFTER UPDATE OF status ON sessions
    FOR EACH ROW WHEN (OLD.status = 'handoff' AND NEW.status <> 'handoff')
    EXECUTE FUNCTION botbuilder_webhook_session_event('conversation.released');
CREATE TRIGGER webhook_message AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION botbuilder_webhook_message_event();
-- An upsert (`INSERT … ON CONFLICT DO UPDATE`) that replaces feedback fires the UPDATE.
CREATE TRIGGER webhook_feedback AFTER INSERT OR UPDATE ON message_feedback
    FOR EACH ROW EXECUTE FUNCTION botbuilder_webhook_feedback_event();
CREATE TRIGGER webhook_document_done AFTER UPDATE OF status ON documents
    FOR EACH ROW WHEN (NEW.status IN ('ready', 'failed') AND OLD.status <> NEW.status)
    EXECUTE FUNCTION botbuilder_webhook_document_event();
