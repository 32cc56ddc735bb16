//! The store conformance suite against the in-memory test double, which keeps the fake honest.

use botbuilder_core::testing::InMemoryStore;

async fn fresh() -> Option<InMemoryStore> {
    Some(InMemoryStore::default())
}

botbuilder_core::store_conformance_suite!(fresh());
