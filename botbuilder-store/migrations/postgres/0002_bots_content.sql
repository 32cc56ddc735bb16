-- What bots are made of, and what organizations store and spend for them: intents and entity
-- definitions, flow drafts and published versions, sealed provider credentials, and the
-- language model usage ledger. The final shape of SQLite migrations 0002 (NLU data), 0003
-- (flows), 0011 (provider credentials) and 0012 (usage ledger); conventions as in 0001.
--
-- Already in 0001: `bots.settings` (SQLite 0005) and `UNIQUE (organization_id, id)` on
-- `bots` (SQLite 0002's `bots_org_id` index), which the composite foreign keys below need.
-- Left out, on purpose:
-- - SQLite 0012's `sessions_outbox` trigger, which wrote the ledger rows of a turn's replies:
--   here a turn is plain statements in one transaction, which store those rows themselves
--   (src/postgres/conversations).
-- - The change-feed triggers of SQLite 0017 on these tables (0006_changes.sql).
--
-- Provider ids and model names are `COLLATE "C"`: they are listed and grouped in byte order,
-- as SQLite's BINARY collation does, whatever the database's default collation.

-- NLU training data. The composite foreign key ties each row to a bot of the same
-- organization, and deleting the bot deletes it. A name is unique per bot, as in SQLite; the
-- key also names the organization (the same rows are unique, since a bot has one), so a
-- request naming another organization's bot fails the foreign key (`NotFound`) even when the
-- name is taken there, where SQLite's `UNIQUE (bot_id, name)` answers `Conflict` first.
CREATE TABLE intents (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    bot_id          uuid NOT NULL,
    name            text NOT NULL,
    examples        text NOT NULL,            -- JSON array of strings
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL,
    UNIQUE (organization_id, bot_id, name),
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
);

CREATE TABLE entities (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    bot_id          uuid NOT NULL,
    name            text NOT NULL,
    kind            text NOT NULL,            -- JSON: {"type": "regex" | "lookup" | "builtin", ...}
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL,
    UNIQUE (organization_id, bot_id, name),
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
);

-- Flows: one editable draft per bot, and numbered immutable published versions. The primary
-- key keeps a bot's version numbers unique; publishers also lock the bot row, so concurrent
-- publications queue for the next number instead of failing on it (src/postgres/flows.rs).
CREATE TABLE flow_drafts (
    bot_id          uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    graph           text NOT NULL,            -- JSON, ReactFlow-compatible
    updated_at      bigint NOT NULL,
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
);

CREATE TABLE flow_versions (
    bot_id          uuid NOT NULL,
    version         bigint NOT NULL,
    organization_id uuid NOT NULL,
    graph           text NOT NULL,
    created_at      bigint NOT NULL,
    PRIMARY KEY (bot_id, version),
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
);

-- Organizations' own language model provider credentials, sealed with the master key
-- (AES-256-GCM; the key id says which key, for rotation). Keys are never stored in clear.
CREATE TABLE provider_credentials (
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider        text COLLATE "C" NOT NULL,
    key_id          text NOT NULL,
    nonce           bytea NOT NULL,
    ciphertext      bytea NOT NULL,
    hint            text NOT NULL,
    base_url        text,
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL,
    PRIMARY KEY (organization_id, provider)
);

-- The language model usage ledger: one row per stored message a language model wrote. It is
-- tied to the organization only (no foreign key on `bot_id`), so deleting a bot or a
-- conversation does not undo spend.
CREATE TABLE llm_usage (
    id                uuid PRIMARY KEY,       -- the message's id
    organization_id   uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    bot_id            uuid NOT NULL,
    provider          text COLLATE "C" NOT NULL,
    model             text COLLATE "C" NOT NULL,
    prompt_tokens     bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    cost_micros       bigint NOT NULL,
    estimated         boolean NOT NULL,
    created_at        bigint NOT NULL
);
CREATE INDEX llm_usage_org_time ON llm_usage(organization_id, created_at);

-- Tenant tables, as in 0001 (the grants come from 0001's default privileges).
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['intents', 'entities', 'flow_drafts', 'flow_versions',
                             'provider_credentials', 'llm_usage'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant ON %I
                 USING (organization_id = botbuilder_tenant() OR botbuilder_system())
                 WITH CHECK (organization_id = botbuilder_tenant() OR botbuilder_system())', t);
    END LOOP;
END
$$;
