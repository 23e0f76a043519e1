//! Keys and shared state, in one test binary: the key database on SQLite and Postgres
//! (`store`), virtual keys over the real server (`virtual_keys`), replicas sharing limits and
//! router state through Redis (`shared_limits`), and the response cache (`cache`).

#[path = "../common/mod.rs"]
mod common;

mod cache;
mod shared_limits;
mod store;
mod virtual_keys;
