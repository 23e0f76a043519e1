//! Logging through the host. Lines are tagged with the adapter's name by the host.

use crate::bindings::wasmgate::provider::logging;
use crate::bindings::wasmgate::provider::types::LogLevel;

/// Logs at debug level.
pub fn debug(message: &str) {
    logging::log(LogLevel::Debug, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    logging::log(LogLevel::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    logging::log(LogLevel::Warn, message);
}

/// Logs at error level.
pub fn error(message: &str) {
    logging::log(LogLevel::Error, message);
}
