//! The adapter's exports, found once per adapter and bound per call without checking their
//! types again.
//!
//! The generated `ProviderIndices::load` looks up and type-checks every export (the whole
//! `chat-request` and `chat-response` type trees) on each instance. The types of a compiled
//! component do not change between its instances, so they are checked once, on the adapter's
//! first instance ([`Exports::check`]); each call then looks up only the function it calls.

use crate::bindings::exports::wasmgate::provider::adapter::OpenedStream;
use crate::bindings::types::{
    AdapterInfo, CallContext, ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest,
    EmbeddingResponse, ProviderError,
};
use crate::bindings::ProviderIndices;
use crate::state::CallState;
use wasmtime::component::{ComponentExportIndex, InstancePre, ResourceAny, TypedFunc};
use wasmtime::Store;

/// Where the contract's functions are in the component.
#[derive(Clone, Copy)]
pub(crate) struct Exports {
    info: ComponentExportIndex,
    chat: ComponentExportIndex,
    chat_stream: ComponentExportIndex,
    embed: ComponentExportIndex,
    next: ComponentExportIndex,
}

/// The interface the contract's functions live in.
const INTERFACE: &str = "wasmgate:provider/adapter@0.2.0";

type Answer<T> = wasmtime::Result<Result<T, ProviderError>>;

impl Exports {
    /// Finds the exports of the adapter interface in `pre`'s component.
    pub(crate) fn find(pre: &InstancePre<CallState>) -> wasmtime::Result<Exports> {
        let component = pre.component();
        let (_, interface) = component
            .get_export(None, INTERFACE)
            .ok_or_else(|| wasmtime::format_err!("no export `{INTERFACE}`"))?;
        let func = |name: &str| {
            component
                .get_export_index(Some(&interface), name)
                .ok_or_else(|| wasmtime::format_err!("no export `{INTERFACE}#{name}`"))
        };
        Ok(Exports {
            info: func("info")?,
            chat: func("chat")?,
            chat_stream: func("chat-stream")?,
            embed: func("embed")?,
            next: func("[method]chunk-stream.next")?,
        })
    }

    /// Checks every export's type against the contract, on one instance of the component; the
    /// calls below rely on it.
    pub(crate) fn check(
        indices: &ProviderIndices,
        store: &mut Store<CallState>,
        instance: &wasmtime::component::Instance,
    ) -> wasmtime::Result<()> {
        indices.load(store, instance).map(drop)
    }

    /// `info()`.
    pub(crate) async fn info(self, mut on: Bound<'_>) -> wasmtime::Result<AdapterInfo> {
        let func = on.func::<(), (AdapterInfo,)>(self.info)?;
        Ok(func.call_async(on.store, ()).await?.0)
    }

    /// `chat(ctx, request)`.
    pub(crate) async fn chat(
        self,
        mut on: Bound<'_>,
        context: &CallContext,
        request: &ChatRequest,
    ) -> Answer<ChatResponse> {
        let func = on
            .func::<(&CallContext, &ChatRequest), (Result<ChatResponse, ProviderError>,)>(
                self.chat,
            )?;
        Ok(func.call_async(on.store, (context, request)).await?.0)
    }

    /// `chat-stream(ctx, request)`.
    pub(crate) async fn chat_stream(
        self,
        mut on: Bound<'_>,
        context: &CallContext,
        request: &ChatRequest,
    ) -> Answer<OpenedStream> {
        let func = on
            .func::<(&CallContext, &ChatRequest), (Result<OpenedStream, ProviderError>,)>(
                self.chat_stream,
            )?;
        Ok(func.call_async(on.store, (context, request)).await?.0)
    }

    /// `embed(ctx, request)`.
    pub(crate) async fn embed(
        self,
        mut on: Bound<'_>,
        context: &CallContext,
        request: &EmbeddingRequest,
    ) -> Answer<EmbeddingResponse> {
        let func = on
            .func::<(&CallContext, &EmbeddingRequest), (Result<EmbeddingResponse, ProviderError>,)>(
                self.embed,
            )?;
        Ok(func.call_async(on.store, (context, request)).await?.0)
    }

    /// `chunk-stream.next()` on `stream`.
    pub(crate) async fn next(
        self,
        mut on: Bound<'_>,
        stream: ResourceAny,
    ) -> Answer<Vec<ChatChunk>> {
        let func =
            on.func::<(ResourceAny,), (Result<Vec<ChatChunk>, ProviderError>,)>(self.next)?;
        Ok(func.call_async(on.store, (stream,)).await?.0)
    }
}

/// One instance and its store, to call an export on.
pub(crate) struct Bound<'a> {
    /// The instance's store.
    pub store: &'a mut Store<CallState>,
    /// The instance.
    pub instance: &'a wasmtime::component::Instance,
}

impl Bound<'_> {
    /// The function at `index` with the contract's type.
    fn func<P, R>(&mut self, index: ComponentExportIndex) -> wasmtime::Result<TypedFunc<P, R>>
    where
        P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
        R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
    {
        let func = self
            .instance
            .get_func(&mut *self.store, index)
            .ok_or_else(|| wasmtime::format_err!("the adapter lost an export"))?;
        // SAFETY: `index` comes from `Exports::find` on this component, whose exports
        // `Exports::check` type-checked against exactly these parameter and result types on
        // its first instance; every instance of a component has the same export types.
        Ok(unsafe { TypedFunc::new_unchecked(func) })
    }
}
