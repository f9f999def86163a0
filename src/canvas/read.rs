//! Reading canvases: one by id, pages of them, and their nodes, edges and counts in grouped
//! queries so that a page costs the same number of statements whatever its size.

use std::collections::HashMap;

use entity::{canvas, canvas_edge, canvas_node};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QuerySelect, Select,
};

use super::{StoredEdge, StoredNode};
use crate::auth::Actor;
use crate::error::Result;
use crate::pagination::{Cursor, Page, fetch_page};

/// Which canvases a list shows.
#[derive(Debug, Clone, Default)]
pub struct CanvasFilter {
    pub is_template: Option<bool>,
    pub is_public: Option<bool>,
    /// Name contains this, ignoring case.
    pub search: Option<String>,
}

/// One page of canvases, newest change first.
pub type CanvasPage = Page<canvas::Model>;

/// The canvas if the actor may read it: their own, a public one, or a template.
pub async fn find_readable(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: &str,
) -> Result<Option<canvas::Model>> {
    let canvas = canvas::Entity::find_by_id(id.to_owned()).one(db).await?;
    Ok(canvas.filter(|c| actor.is(&c.owner_id) || c.is_public || c.is_template))
}

fn owned_by(actor: &Actor, filter: &CanvasFilter) -> Result<Select<canvas::Entity>> {
    let mut query = canvas::Entity::find().filter(canvas::Column::OwnerId.eq(actor.user_id()?));
    if let Some(is_template) = filter.is_template {
        query = query.filter(canvas::Column::IsTemplate.eq(is_template));
    }
    if let Some(is_public) = filter.is_public {
        query = query.filter(canvas::Column::IsPublic.eq(is_public));
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        query = query.filter(
            Expr::col(canvas::Column::SearchName).like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    Ok(query)
}

/// Escapes `%`, `_` and `\` so that a search matches them literally.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The actor's canvases, newest change first.
pub async fn list_canvases(
    db: &impl ConnectionTrait,
    actor: &Actor,
    filter: &CanvasFilter,
    first: usize,
    after: Option<Cursor>,
) -> Result<CanvasPage> {
    let query = owned_by(actor, filter)?;
    fetch_page(
        db,
        query,
        canvas::Column::UpdatedAt,
        canvas::Column::Id,
        first,
        after,
    )
    .await
}

/// How many canvases the actor's list holds under `filter`.
pub async fn count_canvases(
    db: &impl ConnectionTrait,
    actor: &Actor,
    filter: &CanvasFilter,
) -> Result<u64> {
    Ok(owned_by(actor, filter)?.count(db).await?)
}

fn templates() -> Select<canvas::Entity> {
    canvas::Entity::find().filter(canvas::Column::IsTemplate.eq(true))
}

/// Every template, whoever made it: templates are readable by anyone.
pub async fn list_templates(
    db: &impl ConnectionTrait,
    first: usize,
    after: Option<Cursor>,
) -> Result<CanvasPage> {
    let (at, id) = (canvas::Column::UpdatedAt, canvas::Column::Id);
    fetch_page(db, templates(), at, id, first, after).await
}

/// How many templates there are.
pub async fn count_templates(db: &impl ConnectionTrait) -> Result<u64> {
    Ok(templates().count(db).await?)
}

/// The nodes of several canvases in one query, each list in client order.
pub async fn nodes_of(
    db: &impl ConnectionTrait,
    canvas_ids: &[String],
) -> Result<HashMap<String, Vec<StoredNode>>> {
    let rows = super::stored::nodes_of_canvases(db, canvas_ids).await?;
    Ok(group_by_canvas(rows, |n| &n.canvas_id))
}

/// The edges of several canvases in one query, each list in client order.
pub async fn edges_of(
    db: &impl ConnectionTrait,
    canvas_ids: &[String],
) -> Result<HashMap<String, Vec<StoredEdge>>> {
    let rows = super::stored::edges_of_canvases(db, canvas_ids).await?;
    Ok(group_by_canvas(rows, |e| &e.canvas_id))
}

/// Splits rows sorted by canvas into one list per canvas, keeping their order.
fn group_by_canvas<T>(rows: Vec<T>, canvas: impl Fn(&T) -> &String) -> HashMap<String, Vec<T>> {
    let mut by_canvas: HashMap<String, Vec<T>> = HashMap::new();
    for row in rows {
        match by_canvas.get_mut(canvas(&row)) {
            Some(list) => list.push(row),
            None => {
                by_canvas.insert(canvas(&row).clone(), vec![row]);
            }
        }
    }
    by_canvas
}

#[derive(FromQueryResult)]
struct CountRow {
    canvas_id: String,
    count: i64,
}

/// Node counts of several canvases, one grouped query.
pub async fn node_counts(
    db: &impl ConnectionTrait,
    canvas_ids: &[String],
) -> Result<HashMap<String, i64>> {
    let rows = canvas_node::Entity::find()
        .select_only()
        .column(canvas_node::Column::CanvasId)
        .column_as(canvas_node::Column::Id.count(), "count")
        .filter(canvas_node::Column::CanvasId.is_in(canvas_ids.iter().cloned()))
        .group_by(canvas_node::Column::CanvasId)
        .into_model::<CountRow>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.canvas_id, r.count)).collect())
}

/// Edge counts of several canvases, one grouped query.
pub async fn edge_counts(
    db: &impl ConnectionTrait,
    canvas_ids: &[String],
) -> Result<HashMap<String, i64>> {
    let rows = canvas_edge::Entity::find()
        .select_only()
        .column(canvas_edge::Column::CanvasId)
        .column_as(canvas_edge::Column::Id.count(), "count")
        .filter(canvas_edge::Column::CanvasId.is_in(canvas_ids.iter().cloned()))
        .group_by(canvas_edge::Column::CanvasId)
        .into_model::<CountRow>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.canvas_id, r.count)).collect())
}

/// Where a canvas sits in a list ordered by `updated_at`, newest first.
pub fn cursor_of(canvas: &canvas::Model) -> Cursor {
    Cursor {
        at: canvas.updated_at,
        id: canvas.id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
