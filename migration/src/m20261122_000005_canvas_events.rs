//! `canvas_events`: one row per canvas write (per version), written in the write's transaction,
//! for live subscribers to read and for reconnecting ones to replay. No foreign key to
//! `canvases`: the event of a deletion must outlive the canvas.

use sea_orm_migration::{prelude::*, schema::*};

use crate::iden::CanvasEvents;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CanvasEvents::Table)
                    .col(big_pk_auto(CanvasEvents::Id))
                    .col(text(CanvasEvents::CanvasId))
                    .col(big_integer(CanvasEvents::Version))
                    .col(text_null(CanvasEvents::ClientMutationId))
                    .col(json_binary(CanvasEvents::Payload))
                    .col(timestamp_with_time_zone(CanvasEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // One event per version of a canvas; replay reads a range of it.
        manager
            .create_index(
                Index::create()
                    .name("idx_canvas_events_canvas_version")
                    .table(CanvasEvents::Table)
                    .col(CanvasEvents::CanvasId)
                    .col(CanvasEvents::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Pruning looks for old rows.
        manager
            .create_index(
                Index::create()
                    .name("idx_canvas_events_created")
                    .table(CanvasEvents::Table)
                    .col(CanvasEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CanvasEvents::Table).to_owned())
            .await
    }
}
