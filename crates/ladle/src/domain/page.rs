//! One page of a list, in plain values: what `messages::list` reads from a query string and
//! `db::query::fetch_page` turns into `ORDER BY … LIMIT … OFFSET …`.

/// The columns a client may order a list by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderColumn {
    CreatedAt,
    UpdatedAt,
}

/// The order a client asked for. `by: None` leaves the list in its own default order
/// (`created_at` for most tables, `position` for buildpacks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Order {
    pub by: Option<OrderColumn>,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u64,
    pub offset: u64,
    pub order: Order,
}
