//! `canvas_edges`: the edges of a canvas; both ends reference nodes of the same canvas.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "canvas_edges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub canvas_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub source: String,
    pub source_handle: Option<String>,
    pub target: String,
    pub target_handle: Option<String>,
    #[sea_orm(column_name = "type")]
    pub edge_type: String,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub data: Option<Json>,
    /// React Flow's other persisted fields (`animated`, `label`, `markerEnd`, ...), null when none.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub attrs: Option<Json>,
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
