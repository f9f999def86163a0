//! Idempotency keys for `createGeneration`: unique per owner, so a retried request makes no
//! second run.

use sea_orm_migration::{prelude::*, schema::*};

use crate::iden::Generations;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Generations::Table)
                    .add_column(text_null(Generations::IdempotencyKey))
                    .to_owned(),
            )
            .await?;
        // NULLs are distinct in a unique index on both databases: runs without a key never clash.
        manager
            .create_index(
                Index::create()
                    .name("idx_generations_owner_idempotency")
                    .table(Generations::Table)
                    .col(Generations::OwnerId)
                    .col(Generations::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_generations_owner_created")
                    .table(Generations::Table)
                    .col(Generations::OwnerId)
                    .col(Generations::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "idx_generations_owner_created",
            "idx_generations_owner_idempotency",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Generations::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Generations::Table)
                    .drop_column(Generations::IdempotencyKey)
                    .to_owned(),
            )
            .await
    }
}
