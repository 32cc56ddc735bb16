use std::sync::Mutex;

use super::*;
use crate::clock::SystemClock;
use crate::domain::{NewOrganization, NewUser, OrganizationPatch};
use crate::id::OrgId;
use crate::testing::InMemoryStore;

#[derive(Default)]
struct Seen(Mutex<Vec<Change>>);

impl ChangeListener for Seen {
    fn on_change(&self, change: &Change) {
        self.0.lock().unwrap().push(*change);
    }
}

impl Seen {
    fn take(&self) -> Vec<Change> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

async fn org(store: &dyn Store) -> OrgId {
    let user = NewUser {
        email: format!("{}@example.com", uuid::Uuid::now_v7().simple()),
        name: "A".into(),
        password_hash: "x".into(),
    };
    let org = NewOrganization {
        name: "Acme".into(),
    };
    store.create_user_with_org(user, org).await.unwrap().1.id
}

async fn rename(store: &dyn Store, org: OrgId, name: &str) {
    let patch = OrganizationPatch {
        name: Some(name.into()),
        ..Default::default()
    };
    store.update_org(org, patch).await.unwrap();
}

async fn bus_with_listener(store: Arc<dyn Store>) -> (Arc<ChangeBus>, Arc<Seen>) {
    let bus = ChangeBus::start(store, Arc::new(SystemClock))
        .await
        .unwrap();
    let seen = Arc::new(Seen::default());
    bus.listen(seen.clone());
    (bus, seen)
}

#[tokio::test]
async fn catch_up_delivers_new_changes_once_in_order_and_none_from_before_the_start() {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::default());
    let (a, b) = (org(store.as_ref()).await, org(store.as_ref()).await);
    rename(store.as_ref(), a, "before the start").await;
    let (bus, seen) = bus_with_listener(store.clone()).await;

    rename(store.as_ref(), b, "one").await;
    rename(store.as_ref(), a, "two").await;
    assert_eq!(bus.catch_up().await.unwrap(), 2);
    assert_eq!(
        seen.take(),
        [
            Change::Organization { org: b },
            Change::Organization { org: a }
        ]
    );
    assert_eq!(bus.catch_up().await.unwrap(), 0);
    assert!(seen.take().is_empty());
}

#[tokio::test]
async fn more_changes_than_one_read_holds_are_all_delivered() {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::default());
    let a = org(store.as_ref()).await;
    let (bus, seen) = bus_with_listener(store.clone()).await;
    let n = BATCH as usize * 2 + 3;
    for i in 0..n {
        rename(store.as_ref(), a, &format!("name {i}")).await;
    }
    assert_eq!(bus.catch_up().await.unwrap(), n);
    assert_eq!(seen.take().len(), n);
}

#[tokio::test]
async fn concurrent_catch_ups_each_see_the_change_and_it_is_delivered_once() {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::default());
    let a = org(store.as_ref()).await;
    let (bus, seen) = bus_with_listener(store.clone()).await;
    rename(store.as_ref(), a, "changed").await;
    let calls: Vec<_> = (0..32)
        .map(|_| {
            let bus = bus.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                bus.catch_up().await.unwrap();
                // Whichever call read the feed, the change was delivered before any returned.
                assert_eq!(seen.0.lock().unwrap().len(), 1);
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
    assert_eq!(seen.take(), [Change::Organization { org: a }]);
}

#[tokio::test]
async fn the_running_bus_picks_up_changes_by_itself_and_at_once_when_woken() {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::default());
    let a = org(store.as_ref()).await;
    let (bus, seen) = bus_with_listener(store.clone()).await;
    let stop = Arc::new(tokio::sync::Notify::new());
    let running = tokio::spawn({
        let stop = stop.clone();
        bus.clone().run(
            Duration::from_millis(20),
            async move { stop.notified().await },
        )
    });

    rename(store.as_ref(), a, "polled").await;
    wait_for(|| seen.0.lock().unwrap().len() == 1).await;

    // With a poll interval far beyond the test, only the wake-up can deliver the change.
    stop.notify_one();
    running.await.unwrap();
    let stop = Arc::new(tokio::sync::Notify::new());
    let running = tokio::spawn({
        let stop = stop.clone();
        bus.clone().run(
            Duration::from_secs(3600),
            async move { stop.notified().await },
        )
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    rename(store.as_ref(), a, "woken").await;
    bus.wake();
    wait_for(|| seen.0.lock().unwrap().len() == 2).await;
    stop.notify_one();
    running.await.unwrap();
}

async fn wait_for(done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not delivered within 5 s");
}

#[test]
fn a_generation_tells_a_load_whether_an_invalidation_overlapped_it() {
    let generation = Generation::default();
    let before = generation.current();
    assert!(generation.unchanged_since(before));
    generation.bump();
    assert!(!generation.unchanged_since(before));
    assert!(generation.unchanged_since(generation.current()));
}

#[test]
fn invalidations_are_kept_per_key() {
    let invalidations = Invalidations::<u32>::default();
    let start = invalidations.current();
    invalidations.invalidate(1);
    assert!(
        !invalidations.unchanged_since(&1, start),
        "1 changed during the load"
    );
    assert!(invalidations.unchanged_since(&2, start), "2 did not");
    let later = invalidations.current();
    assert!(invalidations.unchanged_since(&1, later));
    invalidations.invalidate_all();
    assert!(!invalidations.unchanged_since(&2, later));
    // Past MAX_TRACKED keys it forgets them, and counts everything as changed.
    let start = invalidations.current();
    for key in 10..10 + MAX_TRACKED as u32 + 1 {
        invalidations.invalidate(key);
    }
    assert!(!invalidations.unchanged_since(&3, start));
    assert!(invalidations.unchanged_since(&3, invalidations.current()));
}
