//! The imports an adapter may have. A component that imports anything else (incoming HTTP, or
//! host functions of another world) is refused at load, naming the import.
//!
//! Language runtimes import more WASI than an adapter uses: every Rust `std` component imports
//! `wasi:cli/environment`, and CPython (componentize-py) and SpiderMonkey (componentize-js) import
//! the filesystem and sockets unconditionally. Those imports are linked without capability: an
//! empty environment and no arguments, no preopened directory (so no file can be named), and
//! TCP, UDP and name lookup switched off (every socket call fails with `access-denied`).

use wasmtime::component::Component;
use wasmtime::Engine;

/// Interfaces (without version) an adapter may import.
const ALLOWED: &[&str] = &[
    "wasi:http/outgoing-handler",
    "wasi:http/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
    "wasmgate:provider/types",
    "wasmgate:provider/logging",
];

/// Whether an import name (`package:ns/interface@version`) is one an adapter may use.
pub(crate) fn is_allowed(name: &str) -> bool {
    let interface = name.split('@').next().unwrap_or(name);
    ALLOWED.contains(&interface)
}

/// The first import of `component` that adapters may not have, if any.
pub(crate) fn forbidden_import(component: &Component, engine: &Engine) -> Option<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name)
        .find(|name| !is_allowed(name))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_provider_world_and_inert_wasi_are_allowed() {
        assert!(is_allowed("wasi:http/outgoing-handler@0.2.12"));
        assert!(is_allowed("wasi:cli/environment@0.2.0"));
        assert!(is_allowed("wasmgate:provider/logging@0.1.0"));
        assert!(is_allowed("wasi:filesystem/preopens@0.2.9"));
        assert!(is_allowed("wasi:sockets/tcp@0.2.9"));
        for denied in [
            "wasi:http/incoming-handler@0.2.0",
            "wasi:keyvalue/store@0.2.0",
            "wasi:cli/run@0.2.0",
            "evil:host/escape",
        ] {
            assert!(!is_allowed(denied), "{denied}");
        }
    }
}
