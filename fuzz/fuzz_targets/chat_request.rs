//! The gateway's request parsing: arbitrary bytes as a chat or embeddings request body must give
//! a request or a 400-class error, never a panic; a parsed request converts back to JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmgate::wire;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    match wire::chat_call(&json) {
        Ok(call) => assert!(!call.model.is_empty()),
        Err(e) => assert!(e.status.is_client_error(), "{e:?}"),
    }
    match wire::embedding_call(&json) {
        Ok(call) => assert!(!call.request.input.is_empty()),
        Err(e) => assert!(e.status.is_client_error(), "{e:?}"),
    }
});
