//! Database migrations. The same code runs on SQLite and PostgreSQL, up and down.

pub use sea_orm_migration::prelude::*;

mod iden;
mod m20261122_000001_create_tables;
mod m20261122_000002_blob_deletions;
mod m20261122_000003_generation_idempotency;
mod m20261122_000004_kv_entries;
mod m20261122_000005_canvas_events;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_tables::Migration),
            Box::new(m20261122_000002_blob_deletions::Migration),
            Box::new(m20261122_000003_generation_idempotency::Migration),
            Box::new(m20261122_000004_kv_entries::Migration),
            Box::new(m20261122_000005_canvas_events::Migration),
        ]
    }
}
