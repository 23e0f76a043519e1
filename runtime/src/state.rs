//! The per-call store data: a WASI context with nothing ambient, the HTTP context with this
//! call's egress rules, resource limits, the CPU meter, and the host side of `logging`.

use crate::bindings::types::LogLevel;
use crate::bindings::wasmgate::provider::{logging, types};
use crate::egress::CallEgress;
use crate::error::{CpuBudgetExceeded, MemoryLimitExceeded};
use crate::policy::Limits;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreContextMut, UpdateDeadline};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Longest log line kept from a guest.
const MAX_LOG_LINE: usize = 4096;

/// Store data of one call.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    egress: CallEgress,
    limiter: GuestLimiter,
    adapter: Arc<str>,
    cpu_ticks: u64,
    cpu_budget_ticks: u64,
    _slot: OwnedSemaphorePermit,
}

impl CallState {
    pub(crate) fn new(
        adapter: Arc<str>,
        limits: &Limits,
        cpu_budget_ticks: u64,
        egress: CallEgress,
        slot: OwnedSemaphorePermit,
    ) -> Self {
        let wasi = WasiCtxBuilder::new()
            .stdout(GuestOutput::new(adapter.clone(), "stdout"))
            .stderr(GuestOutput::new(adapter.clone(), "stderr"))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.max_resources);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(limits.max_header_bytes);
        CallState {
            wasi,
            table,
            http,
            egress,
            limiter: GuestLimiter {
                memory_bytes: limits.memory_bytes,
                table_elements: limits.max_table_elements,
            },
            adapter,
            cpu_ticks: 0,
            cpu_budget_ticks,
            _slot: slot,
        }
    }

    /// Wires the limiter and the CPU meter into a fresh store.
    pub(crate) fn install(store: &mut wasmtime::Store<CallState>, hostcall_fuel: usize) {
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(hostcall_fuel);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(Self::on_epoch_tick);
    }

    /// Counts a refused attempt to open a socket outside `wasi:http`.
    pub(crate) fn socket_refused(&self) {
        self.egress.stats.refused("socket");
    }

    /// Starts a new CPU budget (each stream `next` gets its own).
    pub(crate) fn reset_cpu(&mut self) {
        self.cpu_ticks = 0;
    }

    /// Called on every epoch tick that finds the guest running: counts it, and either stops the
    /// guest or yields so other tasks on this thread make progress.
    fn on_epoch_tick(mut ctx: StoreContextMut<'_, CallState>) -> wasmtime::Result<UpdateDeadline> {
        let state = ctx.data_mut();
        state.cpu_ticks += 1;
        if state.cpu_ticks > state.cpu_budget_ticks {
            return Err(wasmtime::Error::new(CpuBudgetExceeded));
        }
        Ok(UpdateDeadline::Yield(1))
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

impl types::Host for CallState {}

impl logging::Host for CallState {
    fn log(&mut self, level: LogLevel, message: String) {
        let message = truncate(&message);
        let adapter = &*self.adapter;
        match level {
            LogLevel::Trace => tracing::trace!(target: "wasmgate::adapter", adapter, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "wasmgate::adapter", adapter, "{message}"),
            LogLevel::Info => tracing::info!(target: "wasmgate::adapter", adapter, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "wasmgate::adapter", adapter, "{message}"),
            LogLevel::Error => tracing::error!(target: "wasmgate::adapter", adapter, "{message}"),
        }
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(MAX_LOG_LINE) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Caps linear memory and tables; a refused growth traps the guest with a typed error.
struct GuestLimiter {
    memory_bytes: usize,
    table_elements: usize,
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit: self.memory_bytes,
                desired,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }
}

/// A guest's stdout or stderr, forwarded to `tracing` line by line.
#[derive(Clone)]
struct GuestOutput {
    adapter: Arc<str>,
    stream: &'static str,
}

impl GuestOutput {
    fn new(adapter: Arc<str>, stream: &'static str) -> Self {
        GuestOutput { adapter, stream }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let text = String::from_utf8_lossy(buf);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            tracing::info!(target: "wasmgate::adapter", adapter = &*self.adapter, stream = self.stream, "{}", truncate(line));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
