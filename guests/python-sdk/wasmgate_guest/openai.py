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
    """Merges the request's `extra` JSON object into `body`, its keys winning."""
    if extra is None:
        return
    value = _parse("extra", extra)
    if value is None:
        return
    if not isinstance(value, dict):
        raise errors.bad_request("`extra` must be a JSON object")
    body.update(value)


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
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments},
            }
            for c in m.tool_calls
        ]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    return out


def _content_part(p: t.ContentPart) -> Any:
    if isinstance(p, t.ContentPart_Text):
        return {"type": "text", "text": p.value}
    if isinstance(p, t.ContentPart_Image):
        url: Dict[str, Any] = {"url": p.value.url}
        if p.value.detail is not None:
            url["detail"] = p.value.detail
        return {"type": "image_url", "image_url": url}
    return _parse("a content part", p.value)


def _tool(f: t.FunctionDefinition) -> Dict[str, Any]:
    function: Dict[str, Any] = {"name": f.name}
    if f.description is not None:
        function["description"] = f.description
    if f.parameters is not None:
        function["parameters"] = _parse("tool parameters", f.parameters)
    if f.strict is not None:
        function["strict"] = f.strict
    return {"type": "function", "function": function}


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
        reasoning_tokens=_u32(_obj(v, "completion_tokens_details"), "reasoning_tokens"),
    )


def _reasoning(v: Any) -> Optional[str]:
    return _str(v, "reasoning_content") or _str(v, "reasoning")


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
        calls = [
            t.ToolCall(
                id=_str(call, "id") or "",
                function=t.FunctionCall(
                    name=_function(call, "name") or "", arguments=_function(call, "arguments") or ""
                ),
            )
            for call in _list(m, "tool_calls")
        ]
        choices.append(
            t.Choice(
                index=_u32(c, "index") if _u32(c, "index") is not None else i,
                message=t.AssistantMessage(
                    content=_str(m, "content"),
                    reasoning_content=_reasoning(m),
                    tool_calls=calls,
                    refusal=_str(m, "refusal"),
                ),
                finish_reason=parse_finish_reason(c.get("finish_reason") if isinstance(c, dict) else None),
                logprobs=_json(c, "logprobs"),
            )
        )
    extra = {k: x for k, x in v.items() if k not in _KNOWN_TOP_LEVEL and x is not None}
    return t.ChatResponse(
        id=_str(v, "id") or "",
        model=_str(v, "model") or "",
        created=_u64(v, "created"),
        choices=choices,
        usage=parse_usage(v.get("usage")),
        system_fingerprint=_str(v, "system_fingerprint"),
        extra=json.dumps(extra) if extra else None,
    )


def parse_chat_chunk(v: Any) -> t.ChatChunk:
    """One `chat.completion.chunk`."""
    if not isinstance(v, dict):
        raise errors.upstream("a chunk of the provider's stream is not a JSON object")
    choices = []
    for i, c in enumerate(_list(v, "choices")):
        d = _obj(c, "delta")
        calls = [
            t.ToolCallDelta(
                index=_u32(call, "index") if _u32(call, "index") is not None else j,
                id=_str(call, "id"),
                name=_function(call, "name"),
                arguments=_function(call, "arguments"),
            )
            for j, call in enumerate(_list(d, "tool_calls"))
        ]
        role = _str(d, "role")
        choices.append(
            t.ChoiceDelta(
                index=_u32(c, "index") if _u32(c, "index") is not None else i,
                role=_ROLES.get(role) if role is not None else None,
                content=_str(d, "content"),
                reasoning_content=_reasoning(d),
                tool_calls=calls,
                refusal=_str(d, "refusal"),
                finish_reason=parse_finish_reason(c.get("finish_reason") if isinstance(c, dict) else None),
                logprobs=_json(c, "logprobs"),
            )
        )
    return t.ChatChunk(
        id=_str(v, "id") or "",
        model=_str(v, "model") or "",
        created=_u64(v, "created"),
        choices=choices,
        usage=parse_usage(v.get("usage")),
        system_fingerprint=_str(v, "system_fingerprint"),
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
    """The JSON body of an `/embeddings` request. Floats are always requested; the host encodes
    base64 for clients that ask for it."""
    body: Dict[str, Any] = {"model": req.model, "input": list(req.input), "encoding_format": "float"}
    if req.dimensions is not None:
        body["dimensions"] = req.dimensions
    if req.user is not None:
        body["user"] = req.user
    merge_extra(body, req.extra)
    return body


def parse_embedding_response(v: Any) -> t.EmbeddingResponse:
    """An `/embeddings` response body."""
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
        data.append(t.Embedding(index=index if index is not None else i, vector=[float(x) for x in vector]))
    return t.EmbeddingResponse(model=_str(v, "model") or "", data=data, usage=parse_usage(v.get("usage")))
