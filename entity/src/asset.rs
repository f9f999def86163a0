//! `assets`: media files (generated or uploaded) and where their bytes live.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "assets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub owner_id: String,
    pub canvas_id: Option<String>,
    pub node_id: Option<String>,
    pub kind: AssetKind,
    pub status: AssetStatus,
    pub filename: Option<String>,
    pub mime_type: String,
    pub size_bytes: i64,
    /// Where the bytes are in the object store; made by the server, never from user text.
    pub object_key: Option<String>,
    /// Media that stays on a provider's CDN.
    #[sea_orm(column_type = "Text", nullable)]
    pub external_url: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub metadata: Option<Json>,
    pub created_at: DateTimeUtc,
}

/// What an asset holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum AssetKind {
    #[sea_orm(string_value = "image")]
    Image,
    #[sea_orm(string_value = "video")]
    Video,
    #[sea_orm(string_value = "audio")]
    Audio,
    #[sea_orm(string_value = "file")]
    File,
}

/// Where an asset is in its life: waiting for bytes, usable, or refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum AssetStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "ready")]
    Ready,
    #[sea_orm(string_value = "failed")]
    Failed,
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
