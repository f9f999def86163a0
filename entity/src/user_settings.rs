//! `user_settings`: one row per user once they change a default; API keys are sealed (AEAD).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub theme: String,
    pub default_model: Option<String>,
    /// Provider → sealed key; never plaintext.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub api_keys_encrypted: Option<Json>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub preferences: Option<Json>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
