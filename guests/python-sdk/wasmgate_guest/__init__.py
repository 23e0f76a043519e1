"""wasmgate's guest SDK for Python adapters built with componentize-py.

Modules:
- `http`: outgoing HTTP over `wasi:http` (the only way out of the sandbox), blocking, with
  streamed response bodies that live across `chunk-stream.next` calls.
- `sse`: an incremental Server-Sent Events parser (event names included).
- `ndjson`: an incremental newline-delimited JSON parser (Ollama).
- `eventstream`: AWS event-stream framing with CRC checks (Bedrock).
- `urls`: request URLs with encoded path segments and queries.
- `errors`: provider errors, and the mapping from an upstream HTTP answer or a `wasi:http` error
  code to a WIT error kind.
- `openai`: OpenAI's chat-completions and embeddings wire format, for OpenAI-compatible APIs.
- `log`: logging through the host.

The generated bindings (`wit_world`) come from `componentize-py -d wit -w provider`; this package
only uses them, so it works with any adapter built against the `wasmgate:provider` world.
"""
