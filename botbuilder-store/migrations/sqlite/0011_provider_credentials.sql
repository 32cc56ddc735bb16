-- Organizations' own language model provider credentials, sealed with the master key
-- (AES-256-GCM; the key id says which key, for rotation). Keys are never stored in clear.
CREATE TABLE provider_credentials (
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    nonce           BLOB NOT NULL,
    ciphertext      BLOB NOT NULL,
    hint            TEXT NOT NULL,
    base_url        TEXT,
    created_at      INTEGER NOT NULL,   -- µs
    updated_at      INTEGER NOT NULL,   -- µs
    PRIMARY KEY (organization_id, provider)
) STRICT;
