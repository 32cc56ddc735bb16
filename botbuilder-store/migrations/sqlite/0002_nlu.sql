-- NLU training data of bots: intents (with example utterances) and entity definitions.
-- The composite foreign key ties each row to a bot of the same organization.

CREATE UNIQUE INDEX bots_org_id ON bots(organization_id, id);

CREATE TABLE intents (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL,
    bot_id          BLOB NOT NULL,
    name            TEXT NOT NULL,
    examples        TEXT NOT NULL,            -- JSON array of strings
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (bot_id, name),
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE entities (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL,
    bot_id          BLOB NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,            -- JSON: {"type": "regex" | "lookup" | "builtin", ...}
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (bot_id, name),
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
) STRICT;
