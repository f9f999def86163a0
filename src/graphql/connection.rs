//! The parts every Relay cursor connection shares: page info, and the cursors of a page.

use async_graphql::SimpleObject;

use crate::pagination::{Cursor, Page};

/// Where a page sits in its list.
#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// A page turned into what a connection shows: its page info, each node with its cursor (for
/// `edges`), and the nodes alone (for `nodes`).
pub struct Paged<N> {
    pub page_info: PageInfo,
    pub edges: Vec<(String, N)>,
    pub nodes: Vec<N>,
}

/// Wraps each row of `page` as a node, with the cursor `cursor_of` gives it.
pub fn paged<M: Clone, N>(
    page: Page<M>,
    cursor_of: impl Fn(&M) -> Cursor,
    node: impl Fn(M) -> N,
) -> Paged<N> {
    paged_by(page, |m| cursor_of(m).encode(), node)
}

/// [`paged`] for lists with cursors of their own kind: `cursor_of` gives the encoded cursor.
pub fn paged_by<M: Clone, N>(
    page: Page<M>,
    cursor_of: impl Fn(&M) -> String,
    node: impl Fn(M) -> N,
) -> Paged<N> {
    let cursors: Vec<String> = page.items.iter().map(cursor_of).collect();
    Paged {
        page_info: PageInfo {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start_cursor: cursors.first().cloned(),
            end_cursor: cursors.last().cloned(),
        },
        edges: cursors
            .into_iter()
            .zip(page.items.iter().cloned().map(&node))
            .collect(),
        nodes: page.items.into_iter().map(node).collect(),
    }
}
