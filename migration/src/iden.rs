//! Table and column names, in one place for every migration.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Email,
    Name,
    AvatarUrl,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Canvases {
    Table,
    Id,
    OwnerId,
    Name,
    SearchName,
    Description,
    Thumbnail,
    IsTemplate,
    IsPublic,
    Viewport,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum CanvasNodes {
    Table,
    CanvasId,
    Id,
    Type,
    PositionX,
    PositionY,
    Width,
    Height,
    ZIndex,
    ParentId,
    Data,
    Attrs,
    SortPosition,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum CanvasEdges {
    Table,
    CanvasId,
    Id,
    Source,
    SourceHandle,
    Target,
    TargetHandle,
    Type,
    Data,
    Attrs,
    SortPosition,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum Assets {
    Table,
    Id,
    OwnerId,
    CanvasId,
    NodeId,
    Kind,
    Status,
    Filename,
    MimeType,
    SizeBytes,
    ObjectKey,
    ExternalUrl,
    Metadata,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Generations {
    Table,
    Id,
    OwnerId,
    CanvasId,
    NodeId,
    Model,
    Prompt,
    Parameters,
    Status,
    ResultAssetId,
    ErrorMessage,
    DurationMs,
    RetryOf,
    IdempotencyKey,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
pub enum UserSettings {
    Table,
    UserId,
    Theme,
    DefaultModel,
    ApiKeysEncrypted,
    Preferences,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum BlobDeletions {
    Table,
    ObjectKey,
    Attempts,
    LastError,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum KvEntries {
    Table,
    OwnerId,
    Namespace,
    Key,
    Value,
    Metadata,
    SizeBytes,
    Version,
    ExpiresAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum CanvasEvents {
    Table,
    Id,
    CanvasId,
    Version,
    ClientMutationId,
    Payload,
    CreatedAt,
}
