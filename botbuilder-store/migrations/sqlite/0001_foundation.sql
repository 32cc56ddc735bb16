-- Foundation: accounts, tenants, roles, API keys, bots, audit log, refresh tokens.
-- Ids are UUIDv7 stored as 16-byte BLOBs (byte order = time order); times are INTEGER
-- microseconds since the Unix epoch (UTC), so range filters and ordering are exact.

CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE organizations (
    id         BLOB PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE roles (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    permissions     TEXT NOT NULL,            -- JSON array of permission names
    builtin         INTEGER NOT NULL DEFAULT 0,
    rank            INTEGER NOT NULL,         -- built-ins 0..3, custom roles 100
    created_at      INTEGER NOT NULL,
    UNIQUE (organization_id, name),
    UNIQUE (organization_id, id)
) STRICT;

-- The composite foreign key makes it impossible to hold a role of another organization.
CREATE TABLE organization_members (
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id         BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id),
    FOREIGN KEY (organization_id, role_id) REFERENCES roles(organization_id, id)
) STRICT;
CREATE INDEX organization_members_user ON organization_members(user_id);
CREATE INDEX organization_members_role ON organization_members(role_id);

CREATE TABLE api_keys (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    key_hash        BLOB NOT NULL UNIQUE,
    permissions     TEXT NOT NULL,
    created_by      BLOB REFERENCES users(id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER
) STRICT;
CREATE INDEX api_keys_org ON api_keys(organization_id, id);

CREATE TABLE bots (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    ai_config       TEXT NOT NULL,            -- JSON object
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX bots_org ON bots(organization_id, id);

CREATE TABLE audit_log (
    id              BLOB PRIMARY KEY NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    actor           TEXT NOT NULL,            -- user:<id> | api_key:<id> | system
    action          TEXT NOT NULL,
    target_type     TEXT,
    target_id       TEXT,
    details         TEXT NOT NULL,            -- JSON
    ip              TEXT,
    request_id      TEXT,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_log_org ON audit_log(organization_id, id);
CREATE INDEX audit_log_org_action ON audit_log(organization_id, action, id);

CREATE TABLE refresh_tokens (
    id         BLOB PRIMARY KEY NOT NULL,
    family_id  BLOB NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
