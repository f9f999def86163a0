//! The outbox of objects to remove from the asset store after their rows are gone.

use sea_orm_migration::{prelude::*, schema::*};

use crate::iden::BlobDeletions;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BlobDeletions::Table)
                    .col(text(BlobDeletions::ObjectKey).primary_key())
                    .col(integer(BlobDeletions::Attempts).default(0))
                    .col(text_null(BlobDeletions::LastError))
                    .col(timestamp_with_time_zone(BlobDeletions::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BlobDeletions::Table).to_owned())
            .await
    }
}
