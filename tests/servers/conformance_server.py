"""Fixture MCP server with the tools, resources and prompts the conformance suites call.

Usage: ``python tests/servers/conformance_server.py`` (STDIO) or
``python tests/servers/conformance_server.py --http PORT`` (Streamable HTTP on
``http://127.0.0.1:PORT/mcp``; ``PORT`` may be ``0``; prints ``READY <url>`` once listening).
Imports only ``mcp``, ``anyio``, the SDK's own dependencies (uvicorn) and the standard library.

It stands in for the MCP python-sdk's reference "everything" server, which is not on PyPI:
it implements the fixtures of fixed names that the official conformance suite
(``@modelcontextprotocol/conformance``) calls, as the suite's scenario descriptions specify,
and speaks both protocol eras as that server does. Over STDIO the first request decides the
era of the connection (the SDK's dual-era loop); over HTTP handshake sessions and stateless
2026-07-28 requests are served side by side. So ``sampling``, ``elicitation`` and ``roots``
reach the client as server-to-client requests in a handshake session, and as
``InputRequiredResult`` rounds in 2026-07-28; a tool built for one era fails in the other,
as the reference's do:

* tools ``test_simple_text``, ``test_image_content``, ``test_audio_content``,
  ``test_embedded_resource``, ``test_multiple_content_types``, ``test_tool_with_logging``,
  ``test_tool_with_progress``, ``test_error_handling``, ``test_sampling(prompt)``,
  ``test_elicitation(message)``, ``test_elicitation_sep1034_defaults``,
  ``test_elicitation_sep1330_enums``, ``test_reconnection``, ``json_schema_2020_12_tool``
  (2020-12 keywords); for the 2026-07-28 checks also ``test_logging_tool``,
  ``test_streaming_elicitation``, ``test_missing_capability`` (needs sampling; the error
  passes through), ``test_custom_headers(region)`` (``x-mcp-header: Region``) and
  ``test_trigger_tool_change`` / ``test_trigger_prompt_change`` (add a tool or prompt and
  send ``list_changed``);
* multi-round-trip requests (SEP-2322, 2026-07-28 only: the tool returns an
  ``InputRequiredResult`` and reads the answers from the retried request):
  ``test_input_required_result_elicitation``, ``..._sampling``, ``..._list_roots``,
  ``..._request_state`` (HMAC-signed state), ``..._multiple_inputs``, ``..._multi_round``,
  ``..._tampered_state``, ``..._capabilities`` (asks only for what the request's
  ``clientCapabilities`` declare) and the prompt ``test_input_required_result_prompt``;
* ``touch_resource(uri)`` (ours, not the suite's): publishes ``resources/updated`` for *uri*
  to the 2026-07-28 ``subscriptions/listen`` streams that subscribed to it;
* resources ``test://static-text``, ``test://static-binary``, ``test://watched-resource``
  (subscribable) and the template ``test://template/{id}/data``; an unknown URI is -32602
  with the URI in ``data``;
* prompts ``test_simple_prompt``, ``test_prompt_with_arguments(arg1, arg2)``,
  ``test_prompt_with_embedded_resource(resourceUri)``, ``test_prompt_with_image``;
* ``completion/complete`` (prefix match over a few words), ``logging/setLevel``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import secrets
import socket
import struct
import sys
import warnings
import wave
import zlib
from typing import Any

import anyio
import mcp.types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.stdio import stdio_server
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourceUpdated,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.message import ServerMessageMetadata

Ctx = ServerRequestContext[Any, Any]
JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"
TEMPLATE = re.compile(r"test://template/([^/]+)/data")
HOST = "127.0.0.1"
USAGE = "usage: python tests/servers/conformance_server.py [--http PORT]"


def _png_1x1_red() -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter 0, one red pixel
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
    return base64.b64encode(png + chunk(b"IEND", b"")).decode()


def _wav_silence() -> str:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 80)  # 10 ms
    return base64.b64encode(buffer.getvalue()).decode()


PNG = _png_1x1_red()
WAV = _wav_silence()


def _tool(name: str, description: str, schema: dict[str, Any] | None = None) -> types.Tool:
    return types.Tool.model_validate(
        {
            "name": name,
            "description": description,
            "inputSchema": schema or {"type": "object", "properties": {}},
        }
    )


def _string_args(*names: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": "string"} for name in names},
        "required": list(names),
    }


TOOLS = [
    _tool("test_simple_text", "Returns one text content."),
    _tool("test_image_content", "Returns one PNG image."),
    _tool("test_audio_content", "Returns one WAV clip."),
    _tool("test_embedded_resource", "Returns an embedded text resource."),
    _tool("test_multiple_content_types", "Returns text, image and a resource."),
    _tool("test_tool_with_logging", "Logs three messages while it runs."),
    _tool("test_tool_with_progress", "Reports progress 0, 50 and 100 of 100."),
    _tool("test_error_handling", "Always fails with a tool error."),
    _tool("test_sampling", "Asks the client to sample an LLM.", _string_args("prompt")),
    _tool("test_elicitation", "Asks the user for a name and e-mail.", _string_args("message")),
    _tool("test_elicitation_sep1034_defaults", "Elicitation with default values."),
    _tool("test_elicitation_sep1330_enums", "Elicitation with every enum form."),
    _tool("test_reconnection", "Answers after a short while."),
    _tool(
        "json_schema_2020_12_tool",
        "Tool with JSON Schema 2020-12 features",
        {
            "$schema": JSON_SCHEMA_2020_12,
            "type": "object",
            "$defs": {
                "address": {
                    "$anchor": "addressDef",
                    "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
                }
            },
            "properties": {
                "name": {"type": "string"},
                "address": {"$ref": "#/$defs/address"},
                "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                "phone": {"type": "string"},
                "email": {"type": "string"},
            },
            "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
            "if": {
                "properties": {"contactMethod": {"const": "phone"}},
                "required": ["contactMethod"],
            },
            "then": {"required": ["phone"]},
            "else": {"required": ["email"]},
            "additionalProperties": False,
        },
    ),
    _tool("test_logging_tool", "Logs at info level (2026: only if the request asked)."),
    _tool("test_streaming_elicitation", "Reports progress, then asks for a name."),
    _tool("test_missing_capability", "Needs the client's sampling capability."),
    _tool("test_trigger_tool_change", "Adds a tool and announces tools/list_changed."),
    _tool("test_trigger_prompt_change", "Adds a prompt and announces prompts/list_changed."),
    _tool(
        "test_custom_headers",
        "Echoes a region that is mirrored into the Mcp-Param-Region header.",
        {
            "type": "object",
            "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
            "required": ["region"],
        },
    ),
]


MRTR_TOOLS = [
    _tool(f"test_input_required_result_{kind}", f"Multi-round-trip request: {kind}.")
    for kind in (
        "elicitation",
        "sampling",
        "list_roots",
        "request_state",
        "multiple_inputs",
        "multi_round",
        "tampered_state",
        "capabilities",
    )
]
TOOLS.extend(MRTR_TOOLS)
# Not a conformance fixture: tells 2026-07-28 listen streams that a resource changed.
TOOLS.append(_tool("touch_resource", "Announce that a resource changed.", _string_args("uri")))

STATE_KEY = secrets.token_bytes(32)
BUS = InMemorySubscriptionBus()


def _elicit_request(message: str, field: str, kind: str = "string") -> dict[str, Any]:
    schema = {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    return {
        "method": "elicitation/create",
        "params": {"message": message, "requestedSchema": schema},
    }


def _sampling_request(question: str, max_tokens: int) -> dict[str, Any]:
    message = {"role": "user", "content": {"type": "text", "text": question}}
    return {
        "method": "sampling/createMessage",
        "params": {"messages": [message], "maxTokens": max_tokens},
    }


ROOTS_REQUEST: dict[str, Any] = {"method": "roots/list", "params": {}}


def _sign(state: str) -> str:
    mac = hmac.new(STATE_KEY, state.encode(), hashlib.sha256).hexdigest()
    return f"{state}.{mac}"


def _verified(signed: str | None) -> str | None:
    """The state inside *signed*; raises -32602 when it fails the integrity check."""
    if signed is None:
        return None
    state, _, mac = signed.rpartition(".")
    expected = hmac.new(STATE_KEY, state.encode(), hashlib.sha256).hexdigest()
    if not state or not hmac.compare_digest(mac, expected):
        raise MCPError(types.INVALID_PARAMS, "requestState failed its integrity check")
    return state


def _input_required(
    requests: dict[str, Any], state: str | None = None
) -> types.InputRequiredResult:
    body: dict[str, Any] = {"inputRequests": requests}
    if state is not None:
        body["requestState"] = _sign(state)
    return types.InputRequiredResult.model_validate(body)


def _answers(params: types.InputResponseRequestParams) -> dict[str, Any]:
    return {
        key: value.model_dump(by_alias=True, mode="json", exclude_none=True)
        for key, value in (params.input_responses or {}).items()
    }


def _answer_text(answer: Any) -> str:
    content = answer.get("content")
    if isinstance(content, dict):
        return str(content.get("text") or next(iter(content.values()), ""))
    if isinstance(content, list) and content:
        return str(content[0].get("text", ""))
    return ""


def mrtr_tool(
    ctx: Ctx, params: types.CallToolRequestParams
) -> types.CallToolResult | types.InputRequiredResult:
    """The SEP-2322 fixtures; each asks in round 1 and answers once the responses came back."""
    kind = params.name.removeprefix("test_input_required_result_")
    answers = _answers(params)
    state = _verified(params.request_state)
    if kind == "elicitation":
        if "user_name" not in answers:
            return _input_required({"user_name": _elicit_request("What is your name?", "name")})
        return result(text(f"Hello, {_answer_text(answers['user_name'])}!"))
    if kind == "sampling":
        if "capital_question" not in answers:
            question = _sampling_request("What is the capital of France?", 100)
            return _input_required({"capital_question": question})
        return result(text(f"The model said: {_answer_text(answers['capital_question'])}"))
    if kind == "list_roots":
        if "client_roots" not in answers:
            return _input_required({"client_roots": ROOTS_REQUEST})
        roots = [root.get("uri") for root in answers["client_roots"].get("roots", [])]
        return result(text(f"Roots: {', '.join(map(str, roots))}"))
    if kind in ("request_state", "tampered_state"):
        if state != "confirm-pending" or "confirm" not in answers:
            confirm = _elicit_request("Please confirm", "ok", "boolean")
            return _input_required({"confirm": confirm}, "confirm-pending")
        return result(text("state-ok: confirmed"))
    if kind == "multiple_inputs":
        wanted = {
            "user_name": _elicit_request("What is your name?", "name"),
            "greeting": _sampling_request("Generate a greeting", 50),
            "client_roots": ROOTS_REQUEST,
        }
        missing = {key: request for key, request in wanted.items() if key not in answers}
        if state != "all-three" or missing:
            return _input_required(missing or wanted, "all-three")
        return result(text(f"Hello, {_answer_text(answers['user_name'])}: all three received"))
    if kind == "multi_round":
        if state == "round-2" and "step2" in answers:
            colour = (answers["step2"].get("content") or {}).get("color")
            return result(text(f"Favourite colour: {colour}"))
        if state == "round-1" and "step1" in answers:
            step2 = _elicit_request("Step 2: What is your favorite color?", "color")
            return _input_required({"step2": step2}, "round-2")
        step1 = _elicit_request("Step 1: What is your name?", "name")
        return _input_required({"step1": step1}, "round-1")
    # capabilities: ask only for what this request's client declared
    caps = ctx.session.client_capabilities
    requests: dict[str, Any] = {}
    if caps is not None and caps.sampling is not None:
        requests["greeting"] = _sampling_request("Generate a greeting", 50)
    if caps is not None and caps.elicitation is not None:
        requests["user_name"] = _elicit_request("What is your name?", "name")
    if caps is not None and caps.roots is not None:
        requests["client_roots"] = ROOTS_REQUEST
    if not requests or all(key in answers for key in requests):
        return result(text(f"Asked for: {', '.join(sorted(requests)) or 'nothing'}"))
    return _input_required(requests)


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def result(*content: dict[str, Any], error: bool = False) -> types.CallToolResult:
    return types.CallToolResult.model_validate({"content": list(content), "isError": error})


def related(ctx: Ctx) -> ServerMessageMetadata:
    return ServerMessageMetadata(related_request_id=ctx.request_id)


async def _log(ctx: Ctx, message: str) -> None:
    """An info log entry on the request's stream (2026-07-28: only if the request asked)."""
    await ctx.session.send_log_message("info", message, related_request_id=ctx.request_id)


async def _elicit(ctx: Ctx, message: str, schema: dict[str, Any]) -> types.ElicitResult:
    request = types.ElicitRequest(
        params=types.ElicitRequestFormParams.model_validate(
            {"message": message, "requestedSchema": schema}
        )
    )
    return await ctx.session.send_request(request, types.ElicitResult, metadata=related(ctx))


SEP1034_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "John Doe"},
        "age": {"type": "integer", "default": 30},
        "score": {"type": "number", "default": 95.5},
        "status": {
            "type": "string",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "default": True},
    },
}

SEP1330_SCHEMA = {
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {
            "type": "string",
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ],
        },
        "legacyEnum": {
            "type": "string",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            },
        },
    },
}


async def list_tools(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(
    ctx: Ctx, params: types.CallToolRequestParams
) -> types.CallToolResult | types.InputRequiredResult:
    args = params.arguments or {}
    name = params.name
    if name.startswith("test_input_required_result_"):
        return mrtr_tool(ctx, params)
    if name == "test_simple_text":
        return result(text("This is a simple text response for testing."))
    if name == "test_image_content":
        return result({"type": "image", "data": PNG, "mimeType": "image/png"})
    if name == "test_audio_content":
        return result({"type": "audio", "data": WAV, "mimeType": "audio/wav"})
    if name == "test_embedded_resource":
        resource = {
            "uri": "test://embedded-resource",
            "mimeType": "text/plain",
            "text": "This is an embedded resource content.",
        }
        return result({"type": "resource", "resource": resource})
    if name == "test_multiple_content_types":
        resource = {
            "uri": "test://mixed-content-resource",
            "mimeType": "application/json",
            "text": json.dumps({"test": "data", "value": 123}),
        }
        return result(
            text("Multiple content types test:"),
            {"type": "image", "data": PNG, "mimeType": "image/png"},
            {"type": "resource", "resource": resource},
        )
    if name == "test_tool_with_logging":
        await _log(ctx, "Tool execution started")
        await anyio.sleep(0.05)
        await _log(ctx, "Tool processing data")
        await anyio.sleep(0.05)
        await _log(ctx, "Tool execution completed")
        return result(text("Tool with logging executed successfully"))
    if name == "test_tool_with_progress":
        for done in (0, 50, 100):
            await ctx.session.report_progress(done, 100)
            if done < 100:
                await anyio.sleep(0.05)
        return result(text("Tool with progress executed successfully"))
    if name == "test_error_handling":
        return result(text("This tool intentionally returns an error for testing"), error=True)
    if name == "test_sampling":
        request = types.CreateMessageRequest(
            params=types.CreateMessageRequestParams.model_validate(
                {
                    "messages": [{"role": "user", "content": text(str(args.get("prompt", "")))}],
                    "maxTokens": 100,
                }
            )
        )
        reply = await ctx.session.send_request(
            request, types.CreateMessageResult, metadata=related(ctx)
        )
        content = reply.content
        said = content.text if isinstance(content, types.TextContent) else str(content)
        return result(text(f"LLM response: {said}"))
    if name == "test_elicitation":
        schema = {
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        }
        answer = await _elicit(ctx, str(args.get("message", "")), schema)
        return result(text(f"User response: action={answer.action}, content={answer.content}"))
    if name in ("test_elicitation_sep1034_defaults", "test_elicitation_sep1330_enums"):
        schema = SEP1034_SCHEMA if name.endswith("defaults") else SEP1330_SCHEMA
        answer = await _elicit(ctx, "Please review these fields", schema)
        return result(
            text(f"Elicitation completed: action={answer.action}, content={answer.content}")
        )
    if name == "test_reconnection":
        await anyio.sleep(0.2)
        return result(text("Reconnection test completed"))
    if name == "json_schema_2020_12_tool":
        return result(text(json.dumps(args, sort_keys=True)))
    if name == "test_logging_tool":
        await _log(ctx, "Logging tool ran")
        return result(text("Logging tool executed"))
    if name == "test_streaming_elicitation":
        await ctx.session.report_progress(0, 1)
        try:
            answer = await _elicit(ctx, "What is your name?", _string_args("name"))
        except MCPError as exc:
            return result(text(f"Elicitation unavailable: {exc.message}"))
        return result(text(f"Elicitation completed: action={answer.action}"))
    if name == "test_missing_capability":
        caps = ctx.session.client_capabilities
        if not ctx.session.can_send_request and (caps is None or caps.sampling is None):
            raise MCPError(
                types.MISSING_REQUIRED_CLIENT_CAPABILITY,
                "Missing required client capability: sampling",
                data={"requiredCapabilities": {"sampling": {}}},
            )
        request = types.CreateMessageRequest(
            params=types.CreateMessageRequestParams.model_validate(
                {"messages": [{"role": "user", "content": text("ping")}], "maxTokens": 10}
            )
        )
        await ctx.session.send_request(request, types.CreateMessageResult, metadata=related(ctx))
        return result(text("Sampling was available"))
    if name == "test_trigger_tool_change":
        TOOLS.append(_tool(f"dynamic_tool_{len(TOOLS)}", "Added by test_trigger_tool_change."))
        await BUS.publish(ToolsListChanged())  # 2026-07-28: to subscriptions/listen streams
        await ctx.session.send_tool_list_changed()
        return result(text("Tool list changed"))
    if name == "test_trigger_prompt_change":
        PROMPTS.append({"name": f"dynamic_prompt_{len(PROMPTS)}", "description": "Added."})
        await BUS.publish(PromptsListChanged())
        await ctx.session.send_prompt_list_changed()
        return result(text("Prompt list changed"))
    if name == "touch_resource":
        await BUS.publish(ResourceUpdated(uri=str(args.get("uri"))))
        return result(text("touched"))
    if name == "test_custom_headers":
        return result(text(f"Region: {args.get('region')}"))
    raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {name}")


RESOURCES = [
    {
        "uri": "test://static-text",
        "name": "static-text",
        "description": "A static text resource",
        "mimeType": "text/plain",
    },
    {
        "uri": "test://static-binary",
        "name": "static-binary",
        "description": "A static PNG image",
        "mimeType": "image/png",
    },
    {
        "uri": "test://watched-resource",
        "name": "watched-resource",
        "description": "A resource that can be subscribed to",
        "mimeType": "text/plain",
    },
]


async def list_resources(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListResourcesResult:
    return types.ListResourcesResult.model_validate({"resources": RESOURCES})


async def list_templates(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListResourceTemplatesResult:
    template = {
        "uriTemplate": "test://template/{id}/data",
        "name": "template-data",
        "description": "Data for one id",
        "mimeType": "application/json",
    }
    return types.ListResourceTemplatesResult.model_validate({"resourceTemplates": [template]})


async def read_resource(
    ctx: Ctx, params: types.ReadResourceRequestParams
) -> types.ReadResourceResult:
    uri = str(params.uri)
    content: dict[str, Any]
    if uri == "test://static-text":
        content = {
            "mimeType": "text/plain",
            "text": "This is the content of the static text resource.",
        }
    elif uri == "test://static-binary":
        content = {"mimeType": "image/png", "blob": PNG}
    elif uri == "test://watched-resource":
        content = {"mimeType": "text/plain", "text": "Watched resource content."}
    elif match := TEMPLATE.fullmatch(uri):
        data = {"id": match[1], "templateTest": True, "data": f"Data for ID: {match[1]}"}
        content = {"mimeType": "application/json", "text": json.dumps(data, separators=(",", ":"))}
    else:
        raise MCPError(types.INVALID_PARAMS, "Resource not found", data={"uri": uri})
    return types.ReadResourceResult.model_validate({"contents": [{"uri": uri, **content}]})


async def subscribe(ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
    return types.EmptyResult()


async def unsubscribe(ctx: Ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
    return types.EmptyResult()


def _argument(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "description": description, "required": True}


PROMPTS = [
    {"name": "test_simple_prompt", "description": "A prompt without arguments"},
    {
        "name": "test_prompt_with_arguments",
        "description": "A prompt with two arguments",
        "arguments": [
            _argument("arg1", "First test argument"),
            _argument("arg2", "Second test argument"),
        ],
    },
    {
        "name": "test_prompt_with_embedded_resource",
        "description": "A prompt embedding a resource",
        "arguments": [_argument("resourceUri", "URI of the resource to embed")],
    },
    {"name": "test_prompt_with_image", "description": "A prompt with an image"},
    {"name": "test_input_required_result_prompt", "description": "Asks for context first"},
]


async def list_prompts(
    ctx: Ctx, params: types.PaginatedRequestParams | None
) -> types.ListPromptsResult:
    return types.ListPromptsResult.model_validate({"prompts": PROMPTS})


def _user(content: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": content}


async def get_prompt(
    ctx: Ctx, params: types.GetPromptRequestParams
) -> types.GetPromptResult | types.InputRequiredResult:
    args = params.arguments or {}
    messages: list[dict[str, Any]]
    if params.name == "test_input_required_result_prompt":
        answers = _answers(params)
        if "user_context" not in answers:
            ask = _elicit_request("What context should the prompt use?", "context")
            return _input_required({"user_context": ask})
        said = f"Use this context: {_answer_text(answers['user_context'])}"
        messages = [_user(text(said))]
    elif params.name == "test_simple_prompt":
        messages = [_user(text("This is a simple prompt for testing."))]
    elif params.name == "test_prompt_with_arguments":
        said = f"Prompt with arguments: arg1='{args.get('arg1')}', arg2='{args.get('arg2')}'"
        messages = [_user(text(said))]
    elif params.name == "test_prompt_with_embedded_resource":
        resource = {
            "uri": args.get("resourceUri", "test://example-resource"),
            "mimeType": "text/plain",
            "text": "Embedded resource content for testing.",
        }
        messages = [
            _user({"type": "resource", "resource": resource}),
            _user(text("Please process the embedded resource above.")),
        ]
    elif params.name == "test_prompt_with_image":
        messages = [
            _user({"type": "image", "data": PNG, "mimeType": "image/png"}),
            _user(text("Please analyze the image above.")),
        ]
    else:
        raise MCPError(types.INVALID_PARAMS, f"Unknown prompt: {params.name}")
    return types.GetPromptResult.model_validate({"messages": messages})


WORDS = ["paris", "park", "party", "test", "testing", "tester"]


async def complete(ctx: Ctx, params: types.CompleteRequestParams) -> types.CompleteResult:
    prefix = params.argument.value
    values = [word for word in WORDS if word.startswith(prefix)]
    return types.CompleteResult.model_validate(
        {"completion": {"values": values, "total": len(values), "hasMore": False}}
    )


async def set_level(ctx: Ctx, params: types.SetLevelRequestParams) -> types.EmptyResult:
    return types.EmptyResult()


class FixtureServer(Server[Any]):
    """Announces tool and prompt list changes in every handshake session, STDIO or HTTP."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True, prompts_changed=True),
            experimental_capabilities,
            extensions,
        )


def build_server() -> FixtureServer:
    return FixtureServer(
        "fixture-conformance",
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
        on_set_logging_level=set_level,
        on_subscriptions_listen=ListenHandler(BUS),
    )


async def serve_stdio() -> None:
    server = build_server()
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


async def serve_http(port: int) -> None:
    """Both eras on one endpoint: the SDK's session manager routes by protocol version."""
    app = build_server().streamable_http_app(streamable_http_path="/mcp", host=HOST)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    print(f"READY http://{HOST}:{sock.getsockname()[1]}/mcp", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


def main(argv: list[str]) -> None:
    # The 2025 features the suites test (logging, sampling, ...) are deprecated in 2026-07-28.
    warnings.simplefilter("ignore", MCPDeprecationWarning)
    if not argv:
        anyio.run(serve_stdio)
    elif len(argv) == 2 and argv[0] == "--http" and argv[1].isdigit():
        anyio.run(serve_http, int(argv[1]))
    else:
        raise SystemExit(USAGE)


if __name__ == "__main__":
    main(sys.argv[1:])
