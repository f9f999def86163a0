//! `canvas_events`: what each write to a canvas did, one row per version, for live subscribers
//! and for replay. Not tied to `canvases` by a foreign key: a deletion's event outlives the
//! canvas.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "canvas_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub canvas_id: String,
    /// The canvas version the write produced.
    pub version: i64,
    pub client_mutation_id: Option<String>,
    /// What the write did; read as text, see `easel::canvas::events`.
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
