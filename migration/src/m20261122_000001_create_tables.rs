//! The seven tables of the data model, with their keys, foreign keys, cascades and indexes.

use sea_orm_migration::{prelude::*, schema::*};

use crate::iden::{Assets, CanvasEdges, CanvasNodes, Canvases, Generations, UserSettings, Users};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(text(Users::Id).primary_key())
                    .col(text_null(Users::Email).unique_key())
                    .col(text_null(Users::Name))
                    .col(text_null(Users::AvatarUrl))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Canvases::Table)
                    .col(text(Canvases::Id).primary_key())
                    .col(text(Canvases::OwnerId))
                    .col(text(Canvases::Name))
                    .col(text(Canvases::SearchName))
                    .col(text_null(Canvases::Description))
                    .col(text_null(Canvases::Thumbnail))
                    .col(boolean(Canvases::IsTemplate).default(false))
                    .col(boolean(Canvases::IsPublic).default(false))
                    .col(json_binary_null(Canvases::Viewport))
                    .col(big_integer(Canvases::Version).default(1))
                    .col(timestamp_with_time_zone(Canvases::CreatedAt))
                    .col(timestamp_with_time_zone(Canvases::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Canvases::Table, Canvases::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_canvases_owner_updated")
                    .table(Canvases::Table)
                    .col(Canvases::OwnerId)
                    .col((Canvases::UpdatedAt, IndexOrder::Desc))
                    .col((Canvases::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CanvasNodes::Table)
                    .col(text(CanvasNodes::CanvasId))
                    .col(text(CanvasNodes::Id))
                    .col(text(CanvasNodes::Type))
                    .col(double(CanvasNodes::PositionX))
                    .col(double(CanvasNodes::PositionY))
                    .col(double_null(CanvasNodes::Width))
                    .col(double_null(CanvasNodes::Height))
                    .col(integer(CanvasNodes::ZIndex).default(0))
                    .col(text_null(CanvasNodes::ParentId))
                    .col(json_binary(CanvasNodes::Data))
                    .col(json_binary_null(CanvasNodes::Attrs))
                    .col(big_integer(CanvasNodes::SortPosition))
                    .col(timestamp_with_time_zone(CanvasNodes::CreatedAt))
                    .col(timestamp_with_time_zone(CanvasNodes::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(CanvasNodes::CanvasId)
                            .col(CanvasNodes::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CanvasNodes::Table, CanvasNodes::CanvasId)
                            .to(Canvases::Table, Canvases::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CanvasEdges::Table)
                    .col(text(CanvasEdges::CanvasId))
                    .col(text(CanvasEdges::Id))
                    .col(text(CanvasEdges::Source))
                    .col(text_null(CanvasEdges::SourceHandle))
                    .col(text(CanvasEdges::Target))
                    .col(text_null(CanvasEdges::TargetHandle))
                    .col(text(CanvasEdges::Type))
                    .col(json_binary_null(CanvasEdges::Data))
                    .col(json_binary_null(CanvasEdges::Attrs))
                    .col(big_integer(CanvasEdges::SortPosition))
                    .col(timestamp_with_time_zone(CanvasEdges::CreatedAt))
                    .col(timestamp_with_time_zone(CanvasEdges::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(CanvasEdges::CanvasId)
                            .col(CanvasEdges::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CanvasEdges::Table, CanvasEdges::CanvasId)
                            .to(Canvases::Table, Canvases::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(CanvasEdges::Table)
                            .from_col(CanvasEdges::CanvasId)
                            .from_col(CanvasEdges::Source)
                            .to_tbl(CanvasNodes::Table)
                            .to_col(CanvasNodes::CanvasId)
                            .to_col(CanvasNodes::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(CanvasEdges::Table)
                            .from_col(CanvasEdges::CanvasId)
                            .from_col(CanvasEdges::Target)
                            .to_tbl(CanvasNodes::Table)
                            .to_col(CanvasNodes::CanvasId)
                            .to_col(CanvasNodes::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Deleting a node cascades to its edges: without these the cascade scans every edge.
        for (name, column) in [
            ("idx_canvas_edges_source", CanvasEdges::Source),
            ("idx_canvas_edges_target", CanvasEdges::Target),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CanvasEdges::Table)
                        .col(CanvasEdges::CanvasId)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Assets::Table)
                    .col(text(Assets::Id).primary_key())
                    .col(text(Assets::OwnerId))
                    .col(text_null(Assets::CanvasId))
                    .col(text_null(Assets::NodeId))
                    .col(string_len(Assets::Kind, 16))
                    .col(string_len(Assets::Status, 16))
                    .col(text_null(Assets::Filename))
                    .col(text(Assets::MimeType))
                    .col(big_integer(Assets::SizeBytes))
                    .col(text_null(Assets::ObjectKey))
                    .col(text_null(Assets::ExternalUrl))
                    .col(json_binary_null(Assets::Metadata))
                    .col(timestamp_with_time_zone(Assets::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assets::Table, Assets::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assets::Table, Assets::CanvasId)
                            .to(Canvases::Table, Canvases::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_assets_canvas")
                    .table(Assets::Table)
                    .col(Assets::CanvasId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_assets_owner_created")
                    .table(Assets::Table)
                    .col(Assets::OwnerId)
                    .col(Assets::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Generations::Table)
                    .col(text(Generations::Id).primary_key())
                    .col(text(Generations::OwnerId))
                    .col(text(Generations::CanvasId))
                    .col(text_null(Generations::NodeId))
                    .col(text(Generations::Model))
                    .col(text_null(Generations::Prompt))
                    .col(json_binary_null(Generations::Parameters))
                    .col(string_len(Generations::Status, 16))
                    .col(text_null(Generations::ResultAssetId))
                    .col(text_null(Generations::ErrorMessage))
                    .col(big_integer_null(Generations::DurationMs))
                    .col(text_null(Generations::RetryOf))
                    .col(timestamp_with_time_zone(Generations::CreatedAt))
                    .col(timestamp_with_time_zone_null(Generations::StartedAt))
                    .col(timestamp_with_time_zone_null(Generations::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Generations::Table, Generations::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Generations::Table, Generations::CanvasId)
                            .to(Canvases::Table, Canvases::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Generations::Table, Generations::ResultAssetId)
                            .to(Assets::Table, Assets::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Generations::Table, Generations::RetryOf)
                            .to(Generations::Table, Generations::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_generations_canvas_created")
                    .table(Generations::Table)
                    .col(Generations::CanvasId)
                    .col(Generations::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_generations_result_asset")
                    .table(Generations::Table)
                    .col(Generations::ResultAssetId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserSettings::Table)
                    .col(text(UserSettings::UserId).primary_key())
                    .col(text(UserSettings::Theme))
                    .col(text_null(UserSettings::DefaultModel))
                    .col(json_binary_null(UserSettings::ApiKeysEncrypted))
                    .col(json_binary_null(UserSettings::Preferences))
                    .col(timestamp_with_time_zone(UserSettings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserSettings::Table, UserSettings::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so that no foreign key is left dangling.
        for table in [
            UserSettings::Table.into_iden(),
            Generations::Table.into_iden(),
            Assets::Table.into_iden(),
            CanvasEdges::Table.into_iden(),
            CanvasNodes::Table.into_iden(),
            Canvases::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
