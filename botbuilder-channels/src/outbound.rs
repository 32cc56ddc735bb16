//! What the three platform clients share: where their API is, and how a failed request is
//! sorted for the dispatcher.

use botbuilder_core::channel::ChannelError;
use botbuilder_core::fetch::FetchError;

/// The API root to call: `given` (a channel's `api_base_url`) or the platform's `default`,
/// without a trailing `/`.
pub(crate) fn api_root(given: Option<&str>, default: &str) -> String {
    given.unwrap_or(default).trim_end_matches('/').to_owned()
}

/// A request that got no answer, sorted: refused by the outbound guard or not a URL is
/// permanent (an operator must fix the setting), anything else transient. `secret` (a token
/// the URL holds, as Telegram's does) is blanked out of the text, since errors name their URL.
pub(crate) fn fetch_error(error: FetchError, secret: Option<&str>) -> ChannelError {
    let mut text = botbuilder_core::error_chain(&error);
    if let Some(secret) = secret.filter(|s| !s.is_empty()) {
        text = text.replace(secret, "<token>");
    }
    match error {
        FetchError::Refused(_) | FetchError::InvalidUrl(_) => ChannelError::Permanent(text),
        _ => ChannelError::Transient(text.into()),
    }
}
