//! DataLoaders: fields of many canvases resolved by one grouped query per field, not one per
//! canvas. A fresh set is made per request, so nothing is cached across requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{asset, generation, user};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::Error;
use crate::{assets, canvas, generations};

/// How long a loader waits to gather keys before it queries. Resolvers of one list run in the
/// same poll, so a short delay is enough to batch them.
const BATCH_DELAY: Duration = Duration::from_micros(500);

/// The loaders of one request (or one subscription); clones share them.
#[derive(Clone)]
pub struct Loaders(Arc<LoaderSet>);

impl std::ops::Deref for Loaders {
    type Target = LoaderSet;

    fn deref(&self) -> &LoaderSet {
        &self.0
    }
}

/// The loaders themselves.
pub struct LoaderSet {
    pub node_counts: DataLoader<NodeCounts, HashMapCache>,
    pub edge_counts: DataLoader<EdgeCounts, HashMapCache>,
    pub nodes: DataLoader<Nodes, HashMapCache>,
    pub edges: DataLoader<Edges, HashMapCache>,
    pub users: DataLoader<Users, HashMapCache>,
    pub assets: DataLoader<CanvasAssets, HashMapCache>,
    pub asset_by_id: DataLoader<AssetsById, HashMapCache>,
    pub generation_by_id: DataLoader<GenerationsById, HashMapCache>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        fn make<T: Loader<String>>(loader: T) -> DataLoader<T, HashMapCache> {
            DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default()).delay(BATCH_DELAY)
        }
        Loaders(Arc::new(LoaderSet {
            node_counts: make(NodeCounts(db.clone())),
            edge_counts: make(EdgeCounts(db.clone())),
            nodes: make(Nodes(db.clone())),
            edges: make(Edges(db.clone())),
            users: make(Users(db.clone())),
            assets: make(CanvasAssets(db.clone())),
            asset_by_id: make(AssetsById(db.clone())),
            generation_by_id: make(GenerationsById(db.clone())),
        }))
    }

    /// Forgets everything loaded so far; a subscription does this before each event.
    pub fn clear(&self) {
        self.node_counts.clear::<String>();
        self.edge_counts.clear::<String>();
        self.nodes.clear::<String>();
        self.edges.clear::<String>();
        self.users.clear::<String>();
        self.assets.clear::<String>();
        self.asset_by_id.clear::<String>();
        self.generation_by_id.clear::<String>();
    }
}

/// Node count per canvas id.
pub struct NodeCounts(DatabaseConnection);

impl Loader<String> for NodeCounts {
    type Value = i64;
    type Error = Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, i64>, Error> {
        let counts = canvas::node_counts(&self.0, keys).await?;
        Ok(every_key(keys, counts))
    }
}

/// Edge count per canvas id.
pub struct EdgeCounts(DatabaseConnection);

impl Loader<String> for EdgeCounts {
    type Value = i64;
    type Error = Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, i64>, Error> {
        let counts = canvas::edge_counts(&self.0, keys).await?;
        Ok(every_key(keys, counts))
    }
}

/// Nodes per canvas id, in client order.
pub struct Nodes(DatabaseConnection);

impl Loader<String> for Nodes {
    type Value = std::sync::Arc<Vec<canvas::StoredNode>>;
    type Error = Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Error> {
        let by_canvas = canvas::nodes_of(&self.0, keys).await?;
        Ok(every_key(keys, by_canvas)
            .into_iter()
            .map(|(id, nodes)| (id, std::sync::Arc::new(nodes)))
            .collect())
    }
}

/// Edges per canvas id, in client order.
pub struct Edges(DatabaseConnection);

impl Loader<String> for Edges {
    type Value = std::sync::Arc<Vec<canvas::StoredEdge>>;
    type Error = Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Error> {
        let by_canvas = canvas::edges_of(&self.0, keys).await?;
        Ok(every_key(keys, by_canvas)
            .into_iter()
            .map(|(id, edges)| (id, std::sync::Arc::new(edges)))
            .collect())
    }
}

/// Users by id.
pub struct Users(DatabaseConnection);

impl Loader<String> for Users {
    type Value = user::Model;
    type Error = Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, user::Model>, Error> {
        let users = user::Entity::find()
            .filter(user::Column::Id.is_in(keys.iter().cloned()))
            .all(&self.0)
            .await?;
        Ok(users.into_iter().map(|u| (u.id.clone(), u)).collect())
    }
}

/// Assets per canvas id, newest first.
pub struct CanvasAssets(DatabaseConnection);

impl Loader<String> for CanvasAssets {
    type Value = std::sync::Arc<Vec<asset::Model>>;
    type Error = Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Error> {
        let by_canvas = assets::assets_of_canvases(&self.0, keys).await?;
        Ok(every_key(keys, by_canvas)
            .into_iter()
            .map(|(id, assets)| (id, std::sync::Arc::new(assets)))
            .collect())
    }
}

/// Assets by id; the caller checks who may see them.
pub struct AssetsById(DatabaseConnection);

impl Loader<String> for AssetsById {
    type Value = asset::Model;
    type Error = Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, asset::Model>, Error> {
        let rows = asset::Entity::find()
            .filter(asset::Column::Id.is_in(keys.iter().cloned()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|a| (a.id.clone(), a)).collect())
    }
}

/// Generations by id; the caller checks who may see them.
pub struct GenerationsById(DatabaseConnection);

impl Loader<String> for GenerationsById {
    type Value = generation::Model;
    type Error = Error;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, generation::Model>, Error> {
        generations::by_ids(&self.0, keys).await
    }
}

/// An answer for every key asked, the empty value where the database had no row, so that the
/// cache remembers "none" too and a later `load_one` does not query again.
fn every_key<V: Default>(keys: &[String], mut found: HashMap<String, V>) -> HashMap<String, V> {
    keys.iter()
        .map(|key| (key.clone(), found.remove(key).unwrap_or_default()))
        .collect()
}
