-- Analytics (`AnalyticsRepo`) read a bot's sessions and messages by time: one index each,
-- so a report over a window reads that window's rows and no other bot's.
CREATE INDEX sessions_bot_created ON sessions(bot_id, created_at);
CREATE INDEX messages_bot_created ON messages(bot_id, created_at);
