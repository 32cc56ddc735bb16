use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Keyset pagination request: at most `limit` items after (or, for newest-first lists,
/// before) the item whose id is `cursor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Maximum number of items, clamped to [`PageRequest::MAX_LIMIT`].
    pub limit: u32,
    /// Id of the last item of the previous page; `None` for the first page.
    pub cursor: Option<Uuid>,
}

impl PageRequest {
    /// Page size used when the caller names none.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// Largest page size a store returns.
    pub const MAX_LIMIT: u32 = 200;

    /// A first page of `limit` items.
    pub fn first(limit: u32) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }

    /// The limit clamped to `1..=MAX_LIMIT`.
    pub fn effective_limit(&self) -> u32 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(Self::DEFAULT_LIMIT)
    }
}

/// One page of a list, with the cursor for the next page (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page, in the list's documented order.
    pub items: Vec<T>,
    /// Pass as `cursor` to fetch the next page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched items: the extra item, if present, proves
    /// there is a next page and is dropped. `id` extracts the cursor from the last kept item.
    pub fn from_overfetch(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> Uuid) -> Self {
        let limit = limit as usize;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(id)
        } else {
            None
        };
        Self { items, next_cursor }
    }

    /// Maps the items, keeping the cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}
