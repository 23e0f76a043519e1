//! Host bindings of the `wasmgate:provider/provider` world.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "wasmgate:provider/provider",
    imports: { default: tracing },
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
    require_store_data_send: true,
    additional_derives: [PartialEq],
});

pub use wasmgate::provider::types;

/// Host bindings of the optional `wasmgate:provider/token-counter` world (the `tokens` export).
pub mod counting {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasmgate:provider/token-counter",
        exports: { default: async },
        with: {
            "wasmgate:provider/types": super::types,
        },
        require_store_data_send: true,
    });
}
