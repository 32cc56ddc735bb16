-- Per-bot settings outside the language model (NLU threshold, idle timeout, web chat origins),
-- as a JSON object whose missing keys take their defaults.
ALTER TABLE bots ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
