//! What the engine makes of the text it is handed.

use super::*;

/// A channel may hand over text with NUL characters (no API accepts them): the turn goes on
/// without them, and the stored transcript and the model see none, on every store.
#[tokio::test]
async fn nul_characters_are_removed_from_inbound_text() {
    let w = world().await;
    w.llm.push_answer("Hello!");
    let turn = w.say("he\u{0}llo\u{0}").await;
    assert_eq!(turn.inbound.text, "hello");
    let requests = w.llm.requests();
    let sent = &requests[0].messages;
    assert_eq!(sent.last().map(|m| m.content.as_str()), Some("hello"));
}
