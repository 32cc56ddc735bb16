-- A conversation turn's store calls in one round trip each (src/postgres/conversations/
-- turn_calls.rs). A tenant transaction costs a round trip to begin and one to commit around
-- its statements, and a turn makes four calls (its session, twice, its message, its end):
-- on two cores shared with the server, those round trips were most of a turn's cost.
--
-- Each function names its tenant for its transaction (`set_config(…, true)`, as
-- `begin_tenant` does) before anything else, and the store calls it outside any explicit
-- transaction, so that transaction is the call's own: row-level security applies to every
-- statement inside as in any tenant transaction, and the setting ends with the call. They run
-- with the caller's rights (SECURITY INVOKER, the default), so the application role's
-- policies hold. Never call them inside another transaction: they would rename its tenant.
--
-- New messages carry ids the store made before it locked the session; their order is
-- checked under the lock. When the session's newest message does not sort before them, or
-- carries a later time (a concurrent writer of the same session, another instance's clock
-- ahead), the call fails with SQLSTATE BB001 and changes nothing, and the store takes the
-- careful path: a transaction that makes the ids under the lock (0003's rules).

-- `get_session`: the session `id` of `tenant`, if it has one.
CREATE FUNCTION botbuilder_session(tenant uuid, session uuid) RETURNS SETOF sessions
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('botbuilder.org', tenant::text, true),
            set_config('botbuilder.system', '', true);
    RETURN QUERY SELECT * FROM sessions s WHERE s.organization_id = tenant AND s.id = session;
END
$$;

-- `find_open_session`: the newest session of `bot` for `external_user` on `channel` that has
-- not ended.
CREATE FUNCTION botbuilder_open_session(
    tenant uuid, bot uuid, channel_name text, external_user_name text
) RETURNS SETOF sessions
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('botbuilder.org', tenant::text, true),
            set_config('botbuilder.system', '', true);
    RETURN QUERY SELECT * FROM sessions s
        WHERE s.bot_id = bot AND s.organization_id = tenant AND s.channel = channel_name
          AND s.external_user = external_user_name AND s.status <> 'ended'
        ORDER BY s.last_activity_at DESC, s.id DESC LIMIT 1;
END
$$;

-- `append_message` of a message no language model wrote: marks the session active at
-- `stored_at` (locking its row), checks the order, stores the message. No row when `tenant`
-- has no such session.
CREATE FUNCTION botbuilder_append_message(
    tenant uuid, session uuid, stored_at bigint, message_id uuid, message_direction text,
    message_text text, message_payload text, message_intent text, message_confidence float8
) RETURNS SETOF messages
LANGUAGE plpgsql AS $$
DECLARE
    bot uuid;
    stored messages;
    last_id uuid;
    last_at bigint;
BEGIN
    PERFORM set_config('botbuilder.org', tenant::text, true),
            set_config('botbuilder.system', '', true);
    UPDATE sessions s SET last_activity_at = GREATEST(s.last_activity_at, stored_at)
    WHERE s.organization_id = tenant AND s.id = session
    RETURNING s.bot_id INTO bot;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT m.id, m.created_at INTO last_id, last_at FROM messages m
    WHERE m.organization_id = tenant AND m.session_id = session
    ORDER BY m.id DESC LIMIT 1;
    IF last_id >= message_id OR last_at > stored_at THEN
        RAISE EXCEPTION 'new messages do not sort after the session''s newest'
            USING ERRCODE = 'BB001';
    END IF;
    INSERT INTO messages AS m (id, organization_id, bot_id, session_id, direction, text,
                               payload, intent, confidence, created_at)
    VALUES (message_id, tenant, bot, session, message_direction, message_text,
            message_payload, message_intent, message_confidence, stored_at)
    RETURNING m.* INTO stored;
    RETURN NEXT stored;
END
$$;

-- `complete_turn` whose replies no language model wrote: locks the session; at
-- `expected_revision` stores the replies in order (before the status changes, so webhook
-- events keep 0005's order) and writes the status and state, returning the session at its
-- next revision. Fails with BB002 when the revision has moved on; no row when `tenant` has no
-- such session.
CREATE FUNCTION botbuilder_complete_turn(
    tenant uuid, session uuid, expected_revision bigint, new_status text, new_state text,
    stored_at bigint, reply_ids uuid[], reply_directions text[], reply_texts text[],
    reply_payloads text[], reply_intents text[], reply_confidences float8[]
) RETURNS SETOF sessions
LANGUAGE plpgsql AS $$
DECLARE
    current sessions;
    last_id uuid;
    last_at bigint;
BEGIN
    PERFORM set_config('botbuilder.org', tenant::text, true),
            set_config('botbuilder.system', '', true);
    SELECT * INTO current FROM sessions s
    WHERE s.organization_id = tenant AND s.id = session
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF current.revision <> expected_revision THEN
        RAISE EXCEPTION 'the session changed since it was read' USING ERRCODE = 'BB002';
    END IF;
    IF cardinality(reply_ids) > 0 THEN
        SELECT m.id, m.created_at INTO last_id, last_at FROM messages m
        WHERE m.organization_id = tenant AND m.session_id = session
        ORDER BY m.id DESC LIMIT 1;
        IF last_id >= reply_ids[1] OR last_at > stored_at THEN
            RAISE EXCEPTION 'new messages do not sort after the session''s newest'
                USING ERRCODE = 'BB001';
        END IF;
        INSERT INTO messages (id, organization_id, bot_id, session_id, direction, text,
                              payload, intent, confidence, created_at)
        SELECT r.id, tenant, current.bot_id, session, r.direction, r.text, r.payload,
               r.intent, r.confidence, stored_at
        FROM unnest(reply_ids, reply_directions, reply_texts, reply_payloads, reply_intents,
                    reply_confidences)
             WITH ORDINALITY AS r(id, direction, text, payload, intent, confidence, n)
        ORDER BY r.n;
    END IF;
    UPDATE sessions s
    SET status = new_status, state = new_state, revision = s.revision + 1,
        last_activity_at = GREATEST(s.last_activity_at, stored_at)
    WHERE s.organization_id = tenant AND s.id = session
    RETURNING s.* INTO current;
    RETURN NEXT current;
END
$$;
