-- A turn ends with one statement: the session update (state, status, revision check) carries
-- the turn's replies in `outbox` as a JSON array, and this trigger stores them as messages in
-- the same statement, so they are stored if and only if the state is. One statement is one
-- round trip to the connection's thread, and atomic with its triggers.
ALTER TABLE sessions ADD COLUMN outbox TEXT;

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
    UPDATE sessions SET outbox = NULL WHERE id = NEW.id;
END;
