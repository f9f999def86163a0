//! SeaORM entities of Easel, one module per table. They describe rows only: no GraphQL and no
//! domain rules live here.

pub mod asset;
pub mod blob_deletion;
pub mod canvas;
pub mod canvas_edge;
pub mod canvas_event;
pub mod canvas_node;
pub mod generation;
pub mod kv_entry;
pub mod user;
pub mod user_settings;

pub mod prelude {
    //! The entities under short names, for `use entity::prelude::*`.
    pub use crate::asset::Entity as Asset;
    pub use crate::blob_deletion::Entity as BlobDeletion;
    pub use crate::canvas::Entity as Canvas;
    pub use crate::canvas_edge::Entity as CanvasEdge;
    pub use crate::canvas_event::Entity as CanvasEvent;
    pub use crate::canvas_node::Entity as CanvasNode;
    pub use crate::generation::Entity as Generation;
    pub use crate::kv_entry::Entity as KvEntry;
    pub use crate::user::Entity as User;
    pub use crate::user_settings::Entity as UserSettings;
}
