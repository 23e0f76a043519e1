"""OpenAI's chat-completions and embeddings wire format, for adapters of OpenAI-compatible APIs
(OpenAI, vLLM, Ollama, llama.cpp, Groq, Together, DeepSeek, Mistral, OpenRouter, ...)."""

import json
from typing import Any, Dict, List, Optional

from componentize_py_types import Err
from wit_world.imports import wasmgate_provider_types as t

from . import errors

_ROLE_NAMES = {
    t.Role.SYSTEM: "system",
    t.Role.DEVELOPER: "developer",
    t.Role.USER: "user",
    t.Role.ASSISTANT: "assistant",
    t.Role.TOOL: "tool",
}
_ROLES = {name: role for role, name in _ROLE_NAMES.items()}
_ROLES["function"] = t.Role.TOOL


def _parse(what: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as e:
        raise errors.bad_request(f"{what} is not valid JSON: {e}") from None


def merge_extra(body: Dict[str, Any], extra: Optional[str]) -> None:
    """Merges a record's `extra` JSON object into `body`: its keys win, except that two objects
    under one key are merged key by key."""
    if extra is None:
        return
    value = _parse("extra", extra)
    if value is None:
        return
    if not isinstance(value, dict):
        raise errors.bad_request("`extra` must be a JSON object")
    _merge(body, value)


def _merge(into: Dict[str, Any], more: Dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(into.get(key), dict) and isinstance(value, dict):
            _merge(into[key], value)
        else:
            into[key] = value


def extra_of(obj: Any, known: set, nested: Optional[Dict[str, set]] = None) -> Optional[str]:
    """The keys of `obj` not in `known` as the JSON text of an `extra` field; unknown keys of the
    nested objects named in `nested` are kept under their name."""
    if not isinstance(obj, dict):
        return None
    rest = {k: v for k, v in obj.items() if k not in known}
    for name, inner_known in (nested or {}).items():
        inner = obj.get(name)
        if isinstance(inner, dict):
            unknown = {k: v for k, v in inner.items() if k not in inner_known}
            if unknown:
                rest[name] = unknown
    return json.dumps(rest, separators=(",", ":")) if rest else None


_TOOL_CALL_KEYS = {"index", "id", "type", "function"}
_FUNCTION_CALL_KEYS = {"name", "arguments"}
_MESSAGE_KEYS = {"role", "content", "tool_calls", "refusal", "reasoning_content", "reasoning",
                 "thinking_blocks"}
_CHOICE_KEYS = {"index", "message", "finish_reason", "logprobs"}
_CHUNK_CHOICE_KEYS = {"index", "delta", "finish_reason", "logprobs"}
_USAGE_KEYS = {"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
               "completion_tokens_details", "cache_creation_input_tokens",
               "cache_read_input_tokens"}


def _signature_and_extra(call: Any):
    """A tool call's signature (Google's `extra_content.google.thought_signature`) and its other
    unknown keys; the call is copied only when it has a signature to take out."""
    if not isinstance(call, dict):
        return None, None
    content = call.get("extra_content")
    google = content.get("google") if isinstance(content, dict) else None
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    if not isinstance(signature, str):
        return None, extra_of(call, _TOOL_CALL_KEYS, {"function": _FUNCTION_CALL_KEYS})
    rest_google = {k: v for k, v in google.items() if k != "thought_signature"}
    rest_content = {k: v for k, v in content.items() if k != "google"}
    if rest_google:
        rest_content["google"] = rest_google
    stripped = {k: v for k, v in call.items() if k != "extra_content"}
    if rest_content:
        stripped["extra_content"] = rest_content
    return signature, extra_of(stripped, _TOOL_CALL_KEYS, {"function": _FUNCTION_CALL_KEYS})


def _tool_call_json(c: t.ToolCall) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "id": c.id,
        "type": "function",
        "function": {"name": c.function.name, "arguments": c.function.arguments},
    }
    if c.signature is not None:
        out["extra_content"] = {"google": {"thought_signature": c.signature}}
    merge_extra(out, c.extra)
    return out


def _put_reasoning(out: Dict[str, Any], blocks: List[Any]) -> None:
    """`reasoning_content` (the text) and, when a block is signed or redacted, `thinking_blocks`."""
    if not blocks:
        return
    text = "".join(b.value.text for b in blocks if isinstance(b, t.ReasoningBlock_Thinking))
    if text:
        out["reasoning_content"] = text
    opaque = any(
        isinstance(b, t.ReasoningBlock_Redacted) or b.value.signature is not None for b in blocks
    )
    if opaque or len(blocks) > 1:
        out["thinking_blocks"] = [
            {"type": "redacted_thinking", "data": b.value}
            if isinstance(b, t.ReasoningBlock_Redacted)
            else dict({"type": "thinking", "thinking": b.value.text},
                      **({"signature": b.value.signature} if b.value.signature is not None else {}))
            for b in blocks
        ]


def _parse_reasoning(m: Any) -> List[Any]:
    blocks = m.get("thinking_blocks") if isinstance(m, dict) else None
    if isinstance(blocks, list):
        out: List[Any] = []
        for b in blocks:
            if not isinstance(b, dict):
                continue
            if b.get("type") == "redacted_thinking" and isinstance(b.get("data"), str):
                out.append(t.ReasoningBlock_Redacted(b["data"]))
            else:
                out.append(t.ReasoningBlock_Thinking(t.Thinking(_str(b, "thinking") or "", _str(b, "signature"))))
        return out
    text = _str(m, "reasoning_content") or _str(m, "reasoning")
    return [t.ReasoningBlock_Thinking(t.Thinking(text, None))] if text else []


def _parse_reasoning_deltas(d: Any) -> List[Any]:
    blocks = d.get("thinking_blocks") if isinstance(d, dict) else None
    if isinstance(blocks, list):
        out = []
        for i, b in enumerate(blocks):
            if not isinstance(b, dict):
                continue
            index = _u32(b, "index")
            index = i if index is None else index
            if b.get("type") == "redacted_thinking":
                out.append(t.ReasoningDelta(index, None, None, _str(b, "data")))
            else:
                out.append(t.ReasoningDelta(index, _str(b, "thinking") or None, _str(b, "signature"), None))
        return out
    text = _str(d, "reasoning_content") or _str(d, "reasoning")
    return [t.ReasoningDelta(0, text, None, None)] if text else []


def chat_request_body(req: t.ChatRequest, stream: bool) -> Dict[str, Any]:
    """The JSON body of a `/chat/completions` request."""
    body: Dict[str, Any] = {"model": req.model, "messages": [_message(m) for m in req.messages]}
    if req.tools:
        body["tools"] = [_tool(f) for f in req.tools]
    if req.tool_choice is not None:
        body["tool_choice"] = _tool_choice(req.tool_choice)
    if req.response_format is not None:
        body["response_format"] = _response_format(req.response_format)
    optional = {
        "parallel_tool_calls": req.parallel_tool_calls,
        "temperature": req.temperature,
        "top_p": req.top_p,
        "top_k": req.top_k,
        "max_tokens": req.max_tokens,
        "max_completion_tokens": req.max_completion_tokens,
        "stop": req.stop or None,
        "seed": req.seed,
        "presence_penalty": req.presence_penalty,
        "frequency_penalty": req.frequency_penalty,
        "n": req.n,
        "user": req.user,
        "logprobs": req.logprobs,
        "top_logprobs": req.top_logprobs,
        "reasoning_effort": req.reasoning_effort,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if stream:
        body["stream"] = True
        if req.include_usage:
            body["stream_options"] = {"include_usage": True}
    merge_extra(body, req.extra)
    return body


def _message(m: t.Message) -> Dict[str, Any]:
    out: Dict[str, Any] = {"role": _ROLE_NAMES[m.role]}
    content = m.content
    if content is None:
        out["content"] = None
    elif isinstance(content, t.MessageContent_Text):
        out["content"] = content.value
    else:
        out["content"] = [_content_part(p) for p in content.value]
    if m.name is not None:
        out["name"] = m.name
    if m.tool_calls:
        out["tool_calls"] = [_tool_call_json(c) for c in m.tool_calls]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    _put_reasoning(out, m.reasoning)
    merge_extra(out, m.extra)
    return out


def _content_part(p: t.ContentPart) -> Any:
    body = p.body
    if isinstance(body, t.PartBody_Text):
        out: Dict[str, Any] = {"type": "text", "text": body.value}
    elif isinstance(body, t.PartBody_Image):
        url: Dict[str, Any] = {"url": body.value.url}
        if body.value.detail is not None:
            url["detail"] = body.value.detail
        out = {"type": "image_url", "image_url": url}
    else:
        out = _parse("a content part", body.value)
    if isinstance(out, dict):
        merge_extra(out, p.extra)
    return out


def _tool(f: t.FunctionDefinition) -> Dict[str, Any]:
    function: Dict[str, Any] = {"name": f.name}
    if f.description is not None:
        function["description"] = f.description
    if f.parameters is not None:
        function["parameters"] = _parse("tool parameters", f.parameters)
    if f.strict is not None:
        function["strict"] = f.strict
    out = {"type": "function", "function": function}
    merge_extra(out, f.extra)
    return out


def _tool_choice(c: t.ToolChoice) -> Any:
    if isinstance(c, t.ToolChoice_Function):
        return {"type": "function", "function": {"name": c.value}}
    if isinstance(c, t.ToolChoice_Required):
        return "required"
    if isinstance(c, t.ToolChoice_Auto):
        return "auto"
    return "none"


def _response_format(f: t.ResponseFormat) -> Any:
    if isinstance(f, t.ResponseFormat_JsonSchema):
        s = f.value
        schema: Dict[str, Any] = {"name": s.name}
        if s.description is not None:
            schema["description"] = s.description
        if s.schema is not None:
            schema["schema"] = _parse("the response JSON schema", s.schema)
        if s.strict is not None:
            schema["strict"] = s.strict
        return {"type": "json_schema", "json_schema": schema}
    if isinstance(f, t.ResponseFormat_JsonObject):
        return {"type": "json_object"}
    return {"type": "text"}


def _str(v: Any, key: str) -> Optional[str]:
    x = v.get(key) if isinstance(v, dict) else None
    return x if isinstance(x, str) else None


def _u32(v: Any, key: str) -> Optional[int]:
    x = v.get(key) if isinstance(v, dict) else None
    if isinstance(x, bool) or not isinstance(x, int) or x < 0:
        return None
    return min(x, 0xFFFFFFFF)


def _u64(v: Any, key: str) -> int:
    x = v.get(key) if isinstance(v, dict) else None
    if isinstance(x, bool) or not isinstance(x, int) or x < 0:
        return 0
    return min(x, 0xFFFFFFFFFFFFFFFF)


def _json(v: Any, key: str) -> Optional[str]:
    x = v.get(key) if isinstance(v, dict) else None
    return None if x is None else json.dumps(x, separators=(",", ":"))


def _obj(v: Any, key: str) -> Dict[str, Any]:
    x = v.get(key) if isinstance(v, dict) else None
    return x if isinstance(x, dict) else {}


def _list(v: Any, key: str) -> List[Any]:
    x = v.get(key) if isinstance(v, dict) else None
    return x if isinstance(x, list) else []


def parse_finish_reason(v: Any) -> Optional[t.FinishReason]:
    """An OpenAI finish reason."""
    if not isinstance(v, str):
        return None
    known = {
        "stop": t.FinishReason_Stop,
        "length": t.FinishReason_Length,
        "tool_calls": t.FinishReason_ToolCalls,
        "content_filter": t.FinishReason_ContentFilter,
    }
    return known[v]() if v in known else t.FinishReason_Other(v)


def parse_usage(v: Any) -> Optional[t.Usage]:
    """An OpenAI `usage` object."""
    if not isinstance(v, dict):
        return None
    prompt = _u32(v, "prompt_tokens") or 0
    completion = _u32(v, "completion_tokens") or 0
    total = _u32(v, "total_tokens")
    return t.Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total if total is not None else min(prompt + completion, 0xFFFFFFFF),
        cached_tokens=_u32(_obj(v, "prompt_tokens_details"), "cached_tokens"),
        cache_write_tokens=_u32(v, "cache_creation_input_tokens"),
        reasoning_tokens=_u32(_obj(v, "completion_tokens_details"), "reasoning_tokens"),
        extra=extra_of(v, _USAGE_KEYS, {"prompt_tokens_details": {"cached_tokens"},
                                        "completion_tokens_details": {"reasoning_tokens"}}),
    )


def _function(call: Any, key: str) -> Optional[str]:
    return _str(_obj(call, "function"), key)


_KNOWN_TOP_LEVEL = {"id", "object", "created", "model", "choices", "usage", "system_fingerprint"}


def parse_chat_response(v: Any) -> t.ChatResponse:
    """A `/chat/completions` response body."""
    if not isinstance(v, dict) or not isinstance(v.get("choices"), list):
        raise errors.upstream("the provider's response has no `choices`")
    choices = []
    for i, c in enumerate(v["choices"]):
        m = _obj(c, "message")
        calls = []
        for call in _list(m, "tool_calls"):
            signature, extra = _signature_and_extra(call)
            calls.append(
                t.ToolCall(
                    id=_str(call, "id") or "",
                    function=t.FunctionCall(
                        name=_function(call, "name") or "", arguments=_function(call, "arguments") or ""
                    ),
                    signature=signature,
                    extra=extra,
                )
            )
        choices.append(
            t.Choice(
                index=_u32(c, "index") if _u32(c, "index") is not None else i,
                message=t.AssistantMessage(
                    content=_str(m, "content"),
                    reasoning=_parse_reasoning(m),
                    tool_calls=calls,
                    refusal=_str(m, "refusal"),
                    extra=extra_of(m, _MESSAGE_KEYS),
                ),
                finish_reason=parse_finish_reason(c.get("finish_reason") if isinstance(c, dict) else None),
                logprobs=_json(c, "logprobs"),
                extra=extra_of(c, _CHOICE_KEYS),
            )
        )
    return t.ChatResponse(
        id=_str(v, "id") or "",
        model=_str(v, "model") or "",
        created=_u64(v, "created"),
        choices=choices,
        usage=parse_usage(v.get("usage")),
        system_fingerprint=_str(v, "system_fingerprint"),
        extra=extra_of(v, _KNOWN_TOP_LEVEL),
        headers=[],
    )


def parse_chat_chunk(v: Any) -> t.ChatChunk:
    """One `chat.completion.chunk`."""
    if not isinstance(v, dict):
        raise errors.upstream("a chunk of the provider's stream is not a JSON object")
    choices = []
    for i, c in enumerate(_list(v, "choices")):
        d = _obj(c, "delta")
        calls = []
        for j, call in enumerate(_list(d, "tool_calls")):
            signature, extra = _signature_and_extra(call)
            calls.append(
                t.ToolCallDelta(
                    index=_u32(call, "index") if _u32(call, "index") is not None else j,
                    id=_str(call, "id"),
                    name=_function(call, "name"),
                    arguments=_function(call, "arguments"),
                    signature=signature,
                    extra=extra,
                )
            )
        role = _str(d, "role")
        choices.append(
            t.ChoiceDelta(
                index=_u32(c, "index") if _u32(c, "index") is not None else i,
                role=_ROLES.get(role) if role is not None else None,
                content=_str(d, "content"),
                reasoning=_parse_reasoning_deltas(d),
                tool_calls=calls,
                refusal=_str(d, "refusal"),
                finish_reason=parse_finish_reason(c.get("finish_reason") if isinstance(c, dict) else None),
                logprobs=_json(c, "logprobs"),
                extra=extra_of(c, _CHUNK_CHOICE_KEYS, {"delta": _MESSAGE_KEYS}),
            )
        )
    return t.ChatChunk(
        id=_str(v, "id") or "",
        model=_str(v, "model") or "",
        created=_u64(v, "created"),
        choices=choices,
        usage=parse_usage(v.get("usage")),
        system_fingerprint=_str(v, "system_fingerprint"),
        extra=extra_of(v, _KNOWN_TOP_LEVEL),
    )


def stream_error(v: Any) -> Optional[Err]:
    """The provider error carried by an `{"error": ...}` event in a stream, if it is one."""
    if not isinstance(v, dict) or "error" not in v:
        return None
    err = v["error"]
    code = err.get("code") if isinstance(err, dict) else None
    status = code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600 else 500
    return errors.from_http(status, [], json.dumps({"error": err}).encode())


def embedding_request_body(req: t.EmbeddingRequest) -> Dict[str, Any]:
    """The JSON body of an `/embeddings` request. Floats are requested for float and base64 (the
    host encodes base64 for clients that ask for it); quantized encodings are passed on."""
    inputs: List[Any] = []
    for item in req.input:
        if isinstance(item, t.EmbeddingInput_Text):
            inputs.append(item.value)
        elif isinstance(item, t.EmbeddingInput_Tokens):
            inputs.append(list(item.value))
        else:
            raise errors.bad_request("this provider's embeddings endpoint takes text or tokens, not images")
    body: Dict[str, Any] = {"model": req.model, "input": inputs,
                            "encoding_format": _ENCODING_NAMES.get(req.encoding_format, "float")}
    if req.dimensions is not None:
        body["dimensions"] = req.dimensions
    if req.user is not None:
        body["user"] = req.user
    merge_extra(body, req.extra)
    return body


_ENCODING_NAMES = {
    t.EncodingFormat.INT8: "int8",
    t.EncodingFormat.UINT8: "uint8",
    t.EncodingFormat.BINARY: "binary",
    t.EncodingFormat.UBINARY: "ubinary",
}

_VECTORS = {
    t.EncodingFormat.INT8: (t.EmbeddingVector_Int8, -128, 127),
    t.EncodingFormat.BINARY: (t.EmbeddingVector_Binary, -128, 127),
    t.EncodingFormat.UINT8: (t.EmbeddingVector_Uint8, 0, 255),
    t.EncodingFormat.UBINARY: (t.EmbeddingVector_Ubinary, 0, 255),
}


def parse_embedding_response(v: Any, encoding: Optional[t.EncodingFormat] = None) -> t.EmbeddingResponse:
    """An `/embeddings` response body, its vectors in `encoding` (floats by default)."""
    if not isinstance(v, dict) or not isinstance(v.get("data"), list):
        raise errors.upstream("the provider's response has no `data`")
    data = []
    for i, item in enumerate(v["data"]):
        vector = item.get("embedding") if isinstance(item, dict) else None
        if not isinstance(vector, list) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in vector
        ):
            raise errors.upstream("an embedding in the provider's response is not a list of numbers")
        index = _u32(item, "index")
        if encoding in _VECTORS:
            make, lo, hi = _VECTORS[encoding]
            if not all(isinstance(x, int) and lo <= x <= hi for x in vector):
                raise errors.upstream("an embedding holds a number out of its encoding's range")
            value = make(list(vector))
        else:
            value = t.EmbeddingVector_Float([float(x) for x in vector])
        data.append(t.Embedding(index=index if index is not None else i, vector=value))
    return t.EmbeddingResponse(
        model=_str(v, "model") or "",
        data=data,
        usage=parse_usage(v.get("usage")),
        extra=extra_of(v, {"object", "data", "model", "usage"}),
        headers=[],
    )
