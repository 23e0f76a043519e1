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

/// What a component imports and exports (`package:ns/interface@version` names), and the
/// contract version of its `adapter` export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentShape {
    /// Imported interfaces, each with whether adapters may import it.
    pub imports: Vec<(String, bool)>,
    /// Exported interfaces.
    pub exports: Vec<String>,
    /// The version of `wasmgate:provider/adapter` it exports, if it does.
    pub contract: Option<String>,
}

impl ComponentShape {
    pub(crate) fn of(component: &Component, engine: &Engine) -> ComponentShape {
        let ty = component.component_type();
        let imports = ty
            .imports(engine)
            .map(|(name, _)| (name.to_string(), is_allowed(name)))
            .collect();
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
        let contract = exports.iter().find_map(|name| {
            let (interface, version) = name.split_once('@').unwrap_or((name.as_str(), ""));
            (interface == ADAPTER_EXPORT).then(|| version.to_string())
        });
        ComponentShape {
            imports,
            exports,
            contract,
        }
    }
}

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

/// The `wasmgate:provider` version this host speaks.
pub const CONTRACT_VERSION: &str = "0.2.0";

const ADAPTER_EXPORT: &str = "wasmgate:provider/adapter";

/// Why a component's exports do not fit this host's contract, if they do not: a component built
/// against another version of `wasmgate:provider` is named with both versions.
pub(crate) fn contract_mismatch(component: &Component, engine: &Engine) -> Option<String> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let found = exports.iter().find_map(|name| {
        let (interface, version) = name.split_once('@').unwrap_or((name.as_str(), ""));
        (interface == ADAPTER_EXPORT).then_some(version)
    });
    match found {
        Some(version) if compatible(version) => None,
        Some(version) => Some(format!(
            "it implements wasmgate:provider@{}, and this host speaks wasmgate:provider@{CONTRACT_VERSION}; \
             rebuild it against the {CONTRACT_VERSION} WIT (see docs/contract.md, \"Migrating from 0.1\")",
            if version.is_empty() { "(no version)" } else { version }
        )),
        None => Some(format!(
            "it does not export {ADAPTER_EXPORT}@{CONTRACT_VERSION} (it exports: {})",
            if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") }
        )),
    }
}

/// Whether an export version is one this host can call: the same `0.minor` (0.x releases
/// change minor versions only for breaking changes).
fn compatible(version: &str) -> bool {
    let ours: Vec<&str> = CONTRACT_VERSION.split('.').collect();
    let theirs: Vec<&str> = version.split('.').collect();
    theirs.len() == 3 && theirs[0] == ours[0] && theirs[1] == ours[1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_provider_world_and_inert_wasi_are_allowed() {
        assert!(is_allowed("wasi:http/outgoing-handler@0.2.12"));
        assert!(is_allowed("wasi:cli/environment@0.2.0"));
        assert!(is_allowed("wasmgate:provider/logging@0.2.0"));
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

    #[test]
    fn only_the_same_minor_contract_is_compatible() {
        assert!(compatible("0.2.0") && compatible("0.2.7"));
        assert!(!compatible("0.1.0") && !compatible("0.3.0") && !compatible("1.2.0"));
        assert!(!compatible("") && !compatible("0.2"));
    }
}
