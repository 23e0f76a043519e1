//! The sockets WASI offers beside `wasi:http`: every attempt to open one is refused at once and
//! counted. Adapters reach the network only through `wasi:http/outgoing-handler`; many
//! toolchains import `wasi:sockets` anyway, so it stays linked, but creating a TCP or UDP socket
//! fails with `access-denied` before any host socket exists, and the adapter's
//! [`crate::AdapterStats`] count the attempt (reason `socket`). Name lookups stay refused by the
//! WASI context (its implementation is not public to wrap, so they are not counted).

use crate::state::CallState;
use wasmtime::component::{Linker, Resource};
use wasmtime::StoreContextMut;
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddressFamily};
use wasmtime_wasi::p2::{TcpSocket, UdpSocket};

/// The `wasi:sockets` version the WASI linker defines (components asking for any 0.2.x are
/// matched to it).
const SOCKETS: &str = "0.2.12";

fn refuse(store: &StoreContextMut<'_, CallState>) -> ErrorCode {
    store.data().socket_refused();
    ErrorCode::AccessDenied
}

/// Replaces the socket constructors in `linker` (after WASI was added to it).
pub(crate) fn refuse_sockets(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker
        .instance(&format!("wasi:sockets/tcp-create-socket@{SOCKETS}"))?
        .func_wrap(
            "create-tcp-socket",
            |store: StoreContextMut<'_, CallState>, (_,): (IpAddressFamily,)| {
                Ok((Err::<Resource<TcpSocket>, _>(refuse(&store)),))
            },
        )?;
    linker
        .instance(&format!("wasi:sockets/udp-create-socket@{SOCKETS}"))?
        .func_wrap(
            "create-udp-socket",
            |store: StoreContextMut<'_, CallState>, (_,): (IpAddressFamily,)| {
                Ok((Err::<Resource<UdpSocket>, _>(refuse(&store)),))
            },
        )?;
    linker.allow_shadowing(false);
    Ok(())
}
