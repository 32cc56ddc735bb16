-- no-transaction
-- A session's messages are read by organization and session, newest or oldest first (the turn
-- calls of 0007, the transcript, the recent history a model sees): one index with both
-- filters and the order serves all of them whatever the planner's statistics say. With
-- `(session_id, id)` beside the `(organization_id, id)` unique index, a database not yet
-- analyzed (a new deployment's first minute) intersected the two and sorted, reading every
-- message of the organization on each turn. 0009 drops the old index.
--
-- Built CONCURRENTLY, outside a transaction (one statement per file), so messages are still
-- written while it builds on a large table. A build that fails leaves an invalid index:
-- `DROP INDEX messages_org_session` and migrate again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_org_session
    ON messages(organization_id, session_id, id);
