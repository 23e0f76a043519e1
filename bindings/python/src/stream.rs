//! A streamed chat answer, pulled batch by batch from Python.

use crate::failure::call_failed;
use crate::runtime::Shared;
use pyo3::prelude::*;
use std::sync::{Arc, Mutex};
use wasmgate::wire;
use wasmgate_runtime::ChatStream;

/// A streamed answer. `next_batch()` returns the chunks (JSON text of a list of OpenAI
/// `chat.completion.chunk` objects) the adapter made from one upstream read, or `None` at the
/// end; the adapter's instance lives until the end, `close()` or garbage collection.
#[pyclass(frozen, module = "wasmgate._native")]
pub struct Stream {
    pub(crate) shared: Arc<Shared>,
    pub(crate) chunks: Mutex<Option<ChatStream>>,
    pub(crate) model: String,
    /// The client asked for usage (`stream_options.include_usage`).
    pub(crate) include_usage: bool,
}

#[pymethods]
impl Stream {
    /// The next batch of chunks as JSON text, or `None` when the stream is over.
    fn next_batch(&self, py: Python<'_>) -> PyResult<Option<String>> {
        py.detach(|| {
            let mut open = self.chunks.lock().unwrap_or_else(|e| e.into_inner());
            let Some(chunks) = open.as_mut() else {
                return Ok(None);
            };
            match self.shared.block_on(chunks.next_batch()) {
                None => {
                    *open = None;
                    Ok(None)
                }
                Some(Err(e)) => {
                    *open = None;
                    Err(call_failed(e))
                }
                Some(Ok(batch)) => {
                    let json: Vec<serde_json::Value> = batch
                        .iter()
                        .filter_map(|c| wire::client_chunk_json(c, &self.model, self.include_usage))
                        .collect();
                    Ok(Some(serde_json::Value::from(json).to_string()))
                }
            }
        })
    }

    /// Ends the stream early and frees the adapter's instance.
    fn close(&self, py: Python<'_>) {
        py.detach(|| {
            let open = self.chunks.lock().unwrap_or_else(|e| e.into_inner()).take();
            self.release(open);
        })
    }
}

impl Stream {
    /// Drops the adapter's instance inside the runtime its tasks belong to.
    fn release(&self, open: Option<ChatStream>) {
        let _inside = self.shared.tokio.enter();
        drop(open);
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let open = self
            .chunks
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.release(open);
    }
}
