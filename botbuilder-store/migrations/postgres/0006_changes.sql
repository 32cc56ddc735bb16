-- The change feed: every configuration change, recorded by the triggers below in the
-- transaction that makes it, so every instance (and the CLI) invalidates its caches from one
-- source (the contract is `ChangeRepo`'s). Read by `ChangeBus`; pruned after a day.
-- Conversations record nothing here, and update triggers name the configuration columns they
-- watch, so that bookkeeping columns (activity times, progress) never flood the feed.
--
-- Commit order. A sequence hands out numbers when rows are inserted, not when their
-- transactions commit, so two writers could commit 11 before 10 and a reader that has seen 11
-- would never read 10. Every writer of the feed therefore takes one transaction-scoped
-- advisory lock before taking its number, and holds it until it commits or aborts: numbers
-- are taken in commit order. The triggers are deferred constraint triggers, so a transaction
-- takes the lock and its numbers only as it commits, and holds the lock for the commit
-- alone: a long transaction (an organization's deletion cascading through its conversations
-- and chunks) never makes other tenants' configuration writes wait. Conversation turns never
-- take the lock. `last_change_seq` takes the same lock shared, so the number it answers
-- belongs to a committed (or abandoned) change, never one still in flight.

CREATE SEQUENCE changes_seq;

CREATE TABLE changes (
    seq              bigint PRIMARY KEY DEFAULT nextval('changes_seq'),
    organization_id  uuid NOT NULL,      -- no foreign key: outlives the organization
    kind             text NOT NULL,      -- organization | access | bot | knowledge_base | document | credentials | channel
    subject_id       uuid,               -- the bot, knowledge base, document or channel
    parent_id        uuid,               -- a document's knowledge base
    created_at       bigint NOT NULL     -- µs
);
ALTER SEQUENCE changes_seq OWNED BY changes.seq;
CREATE INDEX changes_created ON changes(created_at);

ALTER TABLE changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON changes
    USING (organization_id = botbuilder_tenant() OR botbuilder_system())
    WITH CHECK (organization_id = botbuilder_tenant() OR botbuilder_system());

-- The advisory lock every writer of the feed holds until it commits ('changes' in ASCII).
CREATE FUNCTION botbuilder_changes_lock() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 27980790367741299::bigint $$;

-- Records a change of the row the trigger fired for. Arguments: the kind, then the names of
-- the row's columns holding the organization, the subject and the parent ('' for none).
CREATE FUNCTION botbuilder_record_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    r jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := to_jsonb(OLD);
    ELSE
        r := to_jsonb(NEW);
    END IF;
    PERFORM pg_advisory_xact_lock(botbuilder_changes_lock());
    INSERT INTO changes (organization_id, kind, subject_id, parent_id, created_at)
    VALUES (
        (r ->> TG_ARGV[1])::uuid,
        TG_ARGV[0],
        (r ->> NULLIF(TG_ARGV[2], ''))::uuid,
        (r ->> NULLIF(TG_ARGV[3], ''))::uuid,
        (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
    );
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER change_org_updated AFTER UPDATE OF name, settings ON organizations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('organization', 'id', '', '');
CREATE CONSTRAINT TRIGGER change_org_deleted AFTER DELETE ON organizations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('organization', 'id', '', '');

CREATE CONSTRAINT TRIGGER change_member_updated AFTER UPDATE OF role_id ON organization_members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('access', 'organization_id', '', '');
CREATE CONSTRAINT TRIGGER change_member_removed AFTER DELETE ON organization_members
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('access', 'organization_id', '', '');
CREATE CONSTRAINT TRIGGER change_role_updated AFTER UPDATE OF name, description, permissions ON roles
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('access', 'organization_id', '', '');
CREATE CONSTRAINT TRIGGER change_role_deleted AFTER DELETE ON roles
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('access', 'organization_id', '', '');
CREATE CONSTRAINT TRIGGER change_api_key_deleted AFTER DELETE ON api_keys
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('access', 'organization_id', '', '');

CREATE CONSTRAINT TRIGGER change_bot_updated AFTER UPDATE OF name, description, ai_config, settings ON bots
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('bot', 'organization_id', 'id', '');
CREATE CONSTRAINT TRIGGER change_bot_deleted AFTER DELETE ON bots
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('bot', 'organization_id', 'id', '');
CREATE CONSTRAINT TRIGGER change_intent AFTER INSERT OR UPDATE OR DELETE ON intents
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('bot', 'organization_id', 'bot_id', '');
CREATE CONSTRAINT TRIGGER change_entity AFTER INSERT OR UPDATE OR DELETE ON entities
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('bot', 'organization_id', 'bot_id', '');
CREATE CONSTRAINT TRIGGER change_flow_published AFTER INSERT ON flow_versions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('bot', 'organization_id', 'bot_id', '');

CREATE CONSTRAINT TRIGGER change_kb_updated
    AFTER UPDATE OF name, description, embedding_provider, embedding_model, embedding_dimensions
    ON knowledge_bases
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('knowledge_base', 'organization_id', 'id', '');
CREATE CONSTRAINT TRIGGER change_kb_deleted AFTER DELETE ON knowledge_bases
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('knowledge_base', 'organization_id', 'id', '');
-- A document changes what search finds when it enters or leaves `ready`, or is renamed.
CREATE CONSTRAINT TRIGGER change_document_updated AFTER UPDATE OF status, title ON documents
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.status = 'ready') IS DISTINCT FROM (NEW.status = 'ready')
          OR OLD.title IS DISTINCT FROM NEW.title)
    EXECUTE FUNCTION botbuilder_record_change('document', 'organization_id', 'id', 'knowledge_base_id');
CREATE CONSTRAINT TRIGGER change_document_deleted AFTER DELETE ON documents
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION botbuilder_record_change('document', 'organization_id', 'id', 'knowledge_base_id');

CREATE CONSTRAINT TRIGGER change_credentials AFTER INSERT OR UPDATE OR DELETE ON provider_credentials
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('credentials', 'organization_id', '', '');

CREATE CONSTRAINT TRIGGER change_channel_updated AFTER UPDATE OF name, status, settings, ciphertext ON channels
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.settings IS DISTINCT FROM NEW.settings
          OR OLD.ciphertext IS DISTINCT FROM NEW.ciphertext)
    EXECUTE FUNCTION botbuilder_record_change('channel', 'organization_id', 'id', '');
CREATE CONSTRAINT TRIGGER change_channel_deleted AFTER DELETE ON channels
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION botbuilder_record_change('channel', 'organization_id', 'id', '');
