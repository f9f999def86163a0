//! Easel: the GraphQL backend of node-based canvas apps.
//!
//! The binary is thin; everything a test needs is here. [`serve`] runs the server on a listener
//! the caller bound, until a shutdown future completes.

pub mod app;
pub mod assets;
pub mod auth;
pub mod canvas;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod generations;
pub mod graphql;
pub mod http;
pub mod import;
pub mod info;
pub mod kv;
pub mod live;
pub mod pagination;
pub mod portable;
pub mod progress;
pub mod secret;
pub mod settings;
pub mod time;
pub mod usage;

pub use app::{AppState, serve};
pub use config::{Config, Limits};
pub use error::{Error, Result};
