-- Foundation: accounts, tenants, roles, API keys, bots, audit log, refresh tokens.
-- The same column representation as the SQLite store (see src/rows): ids are UUIDs, times
-- BIGINT microseconds since the Unix epoch (UTC), structured values JSON text.
--
-- Row-level security is a second wall behind the repositories' own `organization_id = $1`:
-- the application runs as this database's application role (`botbuilder_app_role()`,
-- `botbuilder_app_<database>`), which owns nothing, so the policies apply to it. Each database
-- has a role of its own: another deployment on the same server, whose login is a member of
-- its own role only, gets no rights here.
-- Each transaction names its tenant with `set_config('botbuilder.org', <uuid>, true)`; a
-- transaction that names none sees no tenant row. The few operations that are not a tenant's
-- (sign-in by email, an API key by its hash, a bot's public page, background sweeps) set
-- `botbuilder.system` to `on` for their transaction instead.

-- The application role of this database, by its current name (so a restored copy under
-- another name gets a role of its own). The store creates it, grants it to the login that
-- owns the tables and gives it its rights each time it connects (`postgres::connect`).
CREATE FUNCTION botbuilder_app_role() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN octet_length('botbuilder_app_' || current_database()) <= 63
                THEN 'botbuilder_app_' || current_database()
                ELSE 'botbuilder_app_' || md5(current_database()) END
$$;

-- The tenant the current transaction acts for (NULL when none).
CREATE FUNCTION botbuilder_tenant() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('botbuilder.org', true), '')::uuid
$$;

-- Whether the current transaction acts for the platform rather than a tenant.
CREATE FUNCTION botbuilder_system() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('botbuilder.system', true), '') = 'on'
$$;

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    name          text NOT NULL,
    password_hash text NOT NULL,
    created_at    bigint NOT NULL
);

CREATE TABLE organizations (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    settings   text NOT NULL DEFAULT '{}',
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);

CREATE TABLE roles (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    permissions     text NOT NULL,            -- JSON array of permission names
    builtin         boolean NOT NULL DEFAULT false,
    rank            integer NOT NULL,         -- built-ins 0..3, custom roles 100
    created_at      bigint NOT NULL,
    UNIQUE (organization_id, name),
    UNIQUE (organization_id, id)
);

-- The composite foreign key makes it impossible to hold a role of another organization.
CREATE TABLE organization_members (
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id         uuid NOT NULL,
    created_at      bigint NOT NULL,
    PRIMARY KEY (organization_id, user_id),
    FOREIGN KEY (organization_id, role_id) REFERENCES roles(organization_id, id)
);
CREATE INDEX organization_members_user ON organization_members(user_id);
CREATE INDEX organization_members_role ON organization_members(role_id);

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            text NOT NULL,
    prefix          text NOT NULL,
    key_hash        bytea NOT NULL UNIQUE,
    permissions     text NOT NULL,
    created_by      uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at      bigint NOT NULL,
    expires_at      bigint
);
CREATE INDEX api_keys_org ON api_keys(organization_id, id);
CREATE INDEX api_keys_created_by ON api_keys(created_by);

CREATE TABLE bots (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    ai_config       text NOT NULL,            -- JSON object
    settings        text NOT NULL DEFAULT '{}',
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL,
    UNIQUE (organization_id, id)
);

CREATE TABLE audit_log (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    actor           text NOT NULL,            -- user:<id> | api_key:<id> | system
    action          text NOT NULL,
    target_type     text,
    target_id       text,
    details         text NOT NULL,            -- JSON
    ip              text,
    request_id      text,
    created_at      bigint NOT NULL
);
CREATE INDEX audit_log_org ON audit_log(organization_id, id);
CREATE INDEX audit_log_org_action ON audit_log(organization_id, action, id);

CREATE TABLE refresh_tokens (
    id         uuid PRIMARY KEY,
    family_id  uuid NOT NULL,
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at    bigint,
    revoked_at bigint
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);

-- Tenant tables: a row is visible to, and may only be written by, its organization's
-- transactions (or the platform's).
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON organizations
    USING (id = botbuilder_tenant() OR botbuilder_system())
    WITH CHECK (id = botbuilder_tenant() OR botbuilder_system());
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['roles', 'organization_members', 'api_keys', 'bots', 'audit_log'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant ON %I
                 USING (organization_id = botbuilder_tenant() OR botbuilder_system())
                 WITH CHECK (organization_id = botbuilder_tenant() OR botbuilder_system())', t);
    END LOOP;
END
$$;

