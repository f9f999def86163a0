//! Moving data in and out of Easel: portable archives (`export` / `restore`), copying a whole
//! database to another (`db copy`), and copying asset bytes to another store (`assets migrate`).

pub mod archive;
pub mod db_copy;
pub mod export;
pub mod restore;
pub mod store_move;
pub mod tables;
