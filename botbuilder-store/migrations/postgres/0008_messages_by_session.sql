-- A session's messages are read by organization and session, newest or oldest first (the turn
-- calls of 0007, the transcript, the recent history a model sees): one index with both
-- filters and the order serves all of them whatever the planner's statistics say. With
-- `(session_id, id)` beside the `(organization_id, id)` unique index, a database not yet
-- analyzed (a new deployment's first minute) intersected the two and sorted, reading every
-- message of the organization on each turn.
--
-- Built in this migration's transaction, which holds writes to messages while it builds
-- (seconds per million messages). Not CONCURRENTLY: that needs a migration outside a
-- transaction, and it deadlocks with an instance starting meanwhile, whose migrator waits
-- for the advisory lock the build's session holds. To upgrade a large table without the
-- pause, build the index by hand first (`CREATE INDEX CONCURRENTLY messages_org_session ON
-- messages(organization_id, session_id, id)`, then check it is valid); this migration then
-- finds it (docs/operations.md, Upgrades).
CREATE INDEX IF NOT EXISTS messages_org_session ON messages(organization_id, session_id, id);
DROP INDEX IF EXISTS messages_session;
