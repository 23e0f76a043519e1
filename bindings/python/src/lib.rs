//! The native half of the `wasmgate` Python package: the runtime, sandboxed adapters and sealed
//! credentials, with requests and answers in OpenAI's JSON shapes. The Python half
//! (`python/wasmgate`) adds the async API, typed exceptions and the LiteLLM bridge.
//!
//! Every call releases the GIL while the adapter runs, so Python threads (and the event loop,
//! through `asyncio.to_thread`) keep going.

mod adapter;
mod credential;
mod failure;
mod runtime;
mod stream;

use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<runtime::Runtime>()?;
    m.add_class::<credential::Credential>()?;
    m.add_class::<adapter::Adapter>()?;
    m.add_class::<adapter::CallSpec>()?;
    m.add_class::<stream::Stream>()?;
    m.add("CallFailed", py.get_type::<failure::CallFailed>())?;
    m.add("LoadFailed", py.get_type::<failure::LoadFailed>())?;
    let builtins: Vec<&str> = wasmgate::builtin::BUILTIN_ADAPTERS
        .iter()
        .map(|b| b.name)
        .collect();
    m.add("BUILTIN_ADAPTERS", builtins)?;
    m.add("CONTRACT_VERSION", wasmgate_runtime::CONTRACT_VERSION)?;
    Ok(())
}
