-- Flows: one editable draft per bot, and numbered immutable published versions.

CREATE TABLE flow_drafts (
    bot_id          BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL,
    graph           TEXT NOT NULL,            -- JSON, ReactFlow-compatible
    updated_at      INTEGER NOT NULL,
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE flow_versions (
    bot_id          BLOB NOT NULL,
    version         INTEGER NOT NULL,
    organization_id BLOB NOT NULL,
    graph           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (bot_id, version),
    FOREIGN KEY (organization_id, bot_id) REFERENCES bots(organization_id, id) ON DELETE CASCADE
) STRICT;
