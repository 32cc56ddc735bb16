-- Analytics (`AnalyticsRepo`) read a bot's sessions and messages by time: one index each,
-- so a report over a window reads that window's rows and no other bot's.
--
-- Built in this migration's transaction, like 0008 (and for the same reasons). To upgrade
-- large tables without holding writes, build both by hand first with
-- `CREATE INDEX CONCURRENTLY` under these names; this migration then finds them.
CREATE INDEX IF NOT EXISTS sessions_bot_created ON sessions(bot_id, created_at);
CREATE INDEX IF NOT EXISTS messages_bot_created ON messages(bot_id, created_at);
