//! Virtual keys, in one test binary: the key database on SQLite and Postgres (`store`), keys
//! over the real server (`virtual_keys`), and replicas sharing limits through Redis
//! (`shared_limits`).

#[path = "../common/mod.rs"]
mod common;

mod shared_limits;
mod store;
mod virtual_keys;
