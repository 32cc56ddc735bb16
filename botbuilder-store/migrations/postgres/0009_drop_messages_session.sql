-- no-transaction
-- The index 0008 replaces, dropped without blocking writes to messages.
DROP INDEX CONCURRENTLY IF EXISTS messages_session;
