//! Fakes of the platforms' APIs for tests (feature `testing`): local HTTP servers speaking
//! the documented wire formats, errors included, recording what they were sent.

mod recorder;
mod slack;
mod telegram;
mod whatsapp;

pub use slack::FakeSlack;
pub use telegram::FakeTelegram;
pub use whatsapp::FakeWhatsApp;

use std::time::Duration;

/// Polls `check` every 20 ms until it returns `Some`, for at most `within`.
pub async fn eventually<T>(within: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
