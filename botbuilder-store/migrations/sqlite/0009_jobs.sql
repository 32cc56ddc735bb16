-- The durable job queue of the embedded default: a restart resumes pending work.
CREATE TABLE jobs (
    id           BLOB PRIMARY KEY NOT NULL,   -- UUIDv7: enqueue order
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,               -- JSON
    max_attempts INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at INTEGER NOT NULL,            -- µs; not before
    leased_until INTEGER,                     -- µs; set while a worker holds it
    dead         INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
) STRICT;
CREATE INDEX jobs_ready ON jobs(dead, kind, available_at, id);
