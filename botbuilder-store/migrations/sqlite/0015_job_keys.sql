-- Keys of `JobQueue::enqueue_once`: a platform's event id, so a redelivered webhook is
-- enqueued (and so processed) once. Kept for a week, then pruned.
CREATE TABLE job_keys (
    key          TEXT PRIMARY KEY NOT NULL,
    job_id       BLOB NOT NULL,
    recorded_at  INTEGER NOT NULL            -- µs
) STRICT, WITHOUT ROWID;
CREATE INDEX job_keys_recorded ON job_keys(recorded_at);
