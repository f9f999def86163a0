//! `canvas_nodes`: the nodes of a canvas, keyed by (canvas, client id) and kept in client order.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "canvas_nodes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub canvas_id: String,
    /// The client's id (`node-1`); unique within its canvas only.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(column_name = "type")]
    pub node_type: String,
    pub position_x: f64,
    pub position_y: f64,
    pub width: Option<f64>,
    pub height: Option<f64>,
    pub z_index: i32,
    pub parent_id: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Json,
    /// React Flow's other persisted fields (`hidden`, `style`, `extent`, ...), null when none.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub attrs: Option<Json>,
    /// Keeps the client's order: parents come before their children.
    pub sort_position: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::canvas::Entity",
        from = "Column::CanvasId",
        to = "super::canvas::Column::Id",
        on_delete = "Cascade"
    )]
    Canvas,
}

impl Related<super::canvas::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Canvas.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
