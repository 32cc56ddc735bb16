//! The cache conformance suite: one `pub async fn` per clause of the [`Cache`] contract, on
//! real time with short lifetimes. Backends run every clause through
//! [`crate::cache_conformance_suite!`]. Each clause uses keys of its own, so clauses may
//! share one backend.

use std::time::Duration;

use crate::cache::Cache;

fn key(tag: &str) -> String {
    format!("suite:{tag}:{}", uuid::Uuid::now_v7().simple())
}

const MINUTE: Duration = Duration::from_secs(60);

/// A value set is read back whole; a key never set is a miss.
pub async fn a_value_set_is_read_back_and_a_missing_key_misses(cache: &dyn Cache) {
    let key = key("set");
    assert_eq!(cache.get(&key).await.unwrap(), None);
    cache.set(&key, b"value".to_vec(), MINUTE).await.unwrap();
    assert_eq!(
        cache.get(&key).await.unwrap().as_deref(),
        Some(&b"value"[..])
    );
    cache.set(&key, Vec::new(), MINUTE).await.unwrap();
    assert_eq!(
        cache.get(&key).await.unwrap(),
        Some(Vec::new()),
        "empty is a value"
    );
}

/// Setting a key again replaces its value; keys are independent.
pub async fn a_set_replaces_and_keys_are_independent(cache: &dyn Cache) {
    let (a, b) = (key("a"), key("b"));
    cache.set(&a, b"first".to_vec(), MINUTE).await.unwrap();
    cache.set(&b, b"other".to_vec(), MINUTE).await.unwrap();
    cache.set(&a, b"second".to_vec(), MINUTE).await.unwrap();
    assert_eq!(
        cache.get(&a).await.unwrap().as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(cache.get(&b).await.unwrap().as_deref(), Some(&b"other"[..]));
}

/// A deleted key misses; deleting a missing key is not an error.
pub async fn a_deleted_key_misses(cache: &dyn Cache) {
    let key = key("delete");
    cache.set(&key, b"value".to_vec(), MINUTE).await.unwrap();
    cache.delete(&key).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap(), None);
    cache.delete(&key).await.unwrap();
}

/// An entry misses once its time to live has passed.
pub async fn an_entry_expires_after_its_time_to_live(cache: &dyn Cache) {
    let key = key("ttl");
    cache
        .set(&key, b"brief".to_vec(), Duration::from_millis(200))
        .await
        .unwrap();
    assert!(cache.get(&key).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get(&key).await.unwrap(), None);
}

/// Values of every byte and of megabytes (a trained NLU model is about 10 MB) come back
/// unchanged.
pub async fn large_binary_values_come_back_unchanged(cache: &dyn Cache) {
    let key = key("large");
    let value: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    cache.set(&key, value.clone(), MINUTE).await.unwrap();
    let read = cache.get(&key).await.unwrap().expect("a hit");
    assert!(
        read == value,
        "{} bytes read for {}",
        read.len(),
        value.len()
    );
    cache.delete(&key).await.unwrap();
}

/// Expands one `#[tokio::test]` per clause for a backend. `$make` evaluates to a future of
/// `Option<Arc<dyn Cache>>`; `None` skips (printing why) outside CI only.
#[macro_export]
macro_rules! cache_conformance_suite {
    ($make:expr) => {
        $crate::__cache_cases!($make;
            a_value_set_is_read_back_and_a_missing_key_misses,
            a_set_replaces_and_keys_are_independent,
            a_deleted_key_misses,
            an_entry_expires_after_its_time_to_live,
            large_binary_values_come_back_unchanged,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __cache_cases {
    ($make:expr; $($case:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            let made = $crate::__backend_or_skip!($make, stringify!($case), $crate::cache::Cache);
            if let Some(cache) = made {
                $crate::testing::cache_suite::$case(cache.as_ref()).await;
            }
        }
    )+};
}
