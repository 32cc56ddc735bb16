//! SQLite's SQL pieces for the webhook queries.

/// The attempt log with the JSON attempt `$entry` appended, the newest `?8` kept.
macro_rules! appended_log {
    ($entry:literal) => {
        concat!(
            "(SELECT json_group_array(json(value) ORDER BY key) \
              FROM json_each(json_insert(attempt_log, '$[#]', json(",
            $entry,
            "))) WHERE key >= json_array_length(attempt_log) + 1 - ?8)"
        )
    };
}

pub(super) use appended_log;
