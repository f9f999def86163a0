//! `canvases`: a canvas's metadata and its version; nodes and edges live in their own tables.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "canvases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub owner_id: String,
    pub name: String,
    /// The name in lower case, for case-insensitive search on every database (SQLite's
    /// `lower()` folds ASCII only).
    pub search_name: String,
    pub description: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub thumbnail: Option<String>,
    pub is_template: bool,
    pub is_public: bool,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub viewport: Option<Json>,
    /// Bumped by every write; the optimistic-concurrency token clients send back.
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Owner,
    #[sea_orm(has_many = "super::canvas_node::Entity")]
    Nodes,
    #[sea_orm(has_many = "super::canvas_edge::Entity")]
    Edges,
    #[sea_orm(has_many = "super::asset::Entity")]
    Assets,
    #[sea_orm(has_many = "super::generation::Entity")]
    Generations,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

impl Related<super::canvas_node::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Nodes.def()
    }
}

impl Related<super::canvas_edge::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Edges.def()
    }
}

impl Related<super::asset::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Assets.def()
    }
}

impl Related<super::generation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Generations.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
