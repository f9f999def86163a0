//! `kv_entries`: the namespaced key-value store, one row per (owner, namespace, key).

use sea_orm_migration::{prelude::*, schema::*};

use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::iden::{KvEntries, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A text column compared byte by byte: PostgreSQL's default collation follows the locale, and
/// keys must list in the same order on both databases (SQLite's BINARY is already bytewise). It
/// also lets a prefix search use the primary key as a range.
fn bytewise_text(column: KvEntries, backend: DatabaseBackend) -> ColumnDef {
    let mut def = text(column);
    if backend == DatabaseBackend::Postgres {
        def.extra("COLLATE \"C\"");
    }
    def
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(KvEntries::Table)
                    .col(text(KvEntries::OwnerId))
                    .col(bytewise_text(KvEntries::Namespace, backend))
                    .col(bytewise_text(KvEntries::Key, backend))
                    .col(json_binary(KvEntries::Value))
                    .col(json_binary_null(KvEntries::Metadata))
                    .col(big_integer(KvEntries::SizeBytes))
                    .col(big_integer(KvEntries::Version))
                    .col(timestamp_with_time_zone_null(KvEntries::ExpiresAt))
                    .col(timestamp_with_time_zone(KvEntries::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(KvEntries::OwnerId)
                            .col(KvEntries::Namespace)
                            .col(KvEntries::Key),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(KvEntries::Table, KvEntries::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The background sweep of expired entries reads this index only.
        manager
            .create_index(
                Index::create()
                    .name("idx_kv_entries_expires")
                    .table(KvEntries::Table)
                    .col(KvEntries::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(KvEntries::Table).to_owned())
            .await
    }
}
