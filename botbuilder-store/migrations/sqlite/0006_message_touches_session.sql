-- Storing a message marks its session active, inside the same statement, so appending a
-- message is one autocommit INSERT instead of a four-step transaction.
CREATE TRIGGER messages_touch_session AFTER INSERT ON messages
BEGIN
    UPDATE sessions SET last_activity_at = NEW.created_at
    WHERE id = NEW.session_id AND last_activity_at < NEW.created_at;
END;
