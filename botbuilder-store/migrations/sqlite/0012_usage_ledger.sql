-- Organization settings (JSON), such as the monthly spend limit.
ALTER TABLE organizations ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

-- The language model usage ledger: one row per stored message a language model wrote. It is
-- tied to the organization only, so deleting a bot or a conversation does not undo spend.
CREATE TABLE llm_usage (
    id                BLOB PRIMARY KEY NOT NULL,   -- the message's id
    organization_id   BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id            BLOB NOT NULL,
    provider          TEXT NOT NULL,
    model             TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_micros       INTEGER NOT NULL,
    estimated         INTEGER NOT NULL,
    created_at        INTEGER NOT NULL             -- µs
) STRICT;
CREATE INDEX llm_usage_org_time ON llm_usage(organization_id, created_at);

-- The turn trigger (0007) now also writes the ledger rows of the replies that carry `llm`,
-- in the same statement.
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
