//! `generations`: one row per model run, with its inputs, status and result.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "generations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub owner_id: String,
    pub canvas_id: String,
    pub node_id: Option<String>,
    pub model: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub prompt: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub parameters: Option<Json>,
    pub status: GenerationStatus,
    pub result_asset_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error_message: Option<String>,
    pub duration_ms: Option<i64>,
    /// The run this one retries.
    pub retry_of: Option<String>,
    /// A client's key for `createGeneration`: the same key twice gives the same run.
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
}

/// The state machine of a run: PENDING → PROCESSING → COMPLETED | FAILED, or CANCELLED.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum GenerationStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "processing")]
    Processing,
    #[sea_orm(string_value = "completed")]
    Completed,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
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
    #[sea_orm(
        belongs_to = "super::asset::Entity",
        from = "Column::ResultAssetId",
        to = "super::asset::Column::Id",
        on_delete = "SetNull"
    )]
    ResultAsset,
}

impl Related<super::canvas::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Canvas.def()
    }
}

impl Related<super::asset::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ResultAsset.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
