-- The change feed: every configuration change, recorded by the triggers below in the
-- transaction that makes it, so every instance (and the CLI) invalidates its caches from one
-- source. Read by `ChangeBus`; pruned after a day. Conversations record nothing here, and
-- update triggers name the configuration columns they watch, so that bookkeeping columns
-- (activity times, progress) never flood the feed.
CREATE TABLE changes (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,  -- commit order (SQLite has one writer)
    organization_id  BLOB NOT NULL,                      -- no foreign key: outlives the organization
    kind             TEXT NOT NULL,  -- organization | access | bot | knowledge_base | document | credentials | channel
    subject_id       BLOB,           -- the bot, knowledge base, document or channel
    parent_id        BLOB,           -- a document's knowledge base
    created_at       INTEGER NOT NULL                    -- µs
) STRICT;
CREATE INDEX changes_created ON changes(created_at);

CREATE TRIGGER change_org_updated AFTER UPDATE OF name, settings ON organizations
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.id, 'organization', NULL, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_org_deleted AFTER DELETE ON organizations
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (OLD.id, 'organization', NULL, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_member_updated AFTER UPDATE OF role_id ON organization_members
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'access', NULL, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_member_removed AFTER DELETE ON organization_members
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (OLD.organization_id, 'access', NULL, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_role_updated AFTER UPDATE OF name, description, permissions ON roles
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'access', NULL, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_role_deleted AFTER DELETE ON roles
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (OLD.organization_id, 'access', NULL, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_api_key_deleted AFTER DELETE ON api_keys
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (OLD.organization_id, 'access', NULL, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_bot_updated AFTER UPDATE OF name, description, ai_config, settings ON bots
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'bot', NEW.id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_bot_deleted AFTER DELETE ON bots
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (OLD.organization_id, 'bot', OLD.id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_intent_created AFTER INSERT ON intents
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'bot', NEW.bot_id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_intent_updated AFTER UPDATE ON intents
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'bot', NEW.bot_id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_intent_deleted AFTER DELETE ON intents
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (OLD.organization_id, 'bot', OLD.bot_id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_entity_created AFTER INSERT ON entities
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'bot', NEW.bot_id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_entity_updated AFTER UPDATE ON entities
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'bot', NEW.bot_id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_entity_deleted AFTER DELETE ON entities
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (OLD.organization_id, 'bot', OLD.bot_id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_flow_published AFTER INSERT ON flow_versions
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'bot', NEW.bot_id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_kb_updated AFTER UPDATE OF name, description, embedding_provider, embedding_model, embedding_dimensions ON knowledge_bases
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'knowledge_base', NEW.id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_kb_deleted AFTER DELETE ON knowledge_bases
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (OLD.organization_id, 'knowledge_base', OLD.id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_document_updated AFTER UPDATE OF status, title ON documents
WHEN (OLD.status = 'ready') IS NOT (NEW.status = 'ready') OR OLD.title IS NOT NEW.title
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'document', NEW.id, NEW.knowledge_base_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_document_deleted AFTER DELETE ON documents
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (OLD.organization_id, 'document', OLD.id, OLD.knowledge_base_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_credentials_stored AFTER INSERT ON provider_credentials
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'credentials', NULL, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_credentials_updated AFTER UPDATE ON provider_credentials
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'credentials', NULL, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_credentials_deleted AFTER DELETE ON provider_credentials
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (OLD.organization_id, 'credentials', NULL, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_channel_updated AFTER UPDATE OF name, status, settings, ciphertext ON channels
WHEN OLD.name IS NOT NEW.name OR OLD.status IS NOT NEW.status OR OLD.settings IS NOT NEW.settings OR OLD.ciphertext IS NOT NEW.ciphertext
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (NEW.organization_id, 'channel', NEW.id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;

CREATE TRIGGER change_channel_deleted AFTER DELETE ON channels
BEGIN
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (OLD.organization_id, 'channel', OLD.id, NULL, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
