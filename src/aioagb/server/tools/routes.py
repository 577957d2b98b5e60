"""Handlers of the tool routes: `POST /mcp/listTools` (§3.12) and `POST /mcp` (§4)."""

from __future__ import annotations

import json

from aiohttp import web

from ... import _protocol as p
from ..envelope import CODE_TOOL_NOT_FOUND, ApiError
from ..envelope import not_on_agb_local as not_available
from ..images import ImageKind, image_kind, requested_image
from ..params import parse_json_object, required, required_text
from ..state import Call
from .table import TOOLS, ToolInvocation, call_tool, listed_tools


async def list_tools(call: Call) -> web.Response:
    """`/mcp/listTools` (§3.12): the tool table's descriptions, for a known image."""
    image = requested_image(call.query)
    # Every accepted image is served as a code space; what run_code offers depends on the
    # runtimes installed, and browser images add the browser's tools.
    browser = image_kind(image) is ImageKind.BROWSER_USE
    described = listed_tools(call.registry.backend.languages, browser=browser)
    # §3.12: `data` is a JSON *string*; an actual array reads as "no tools" to the client.
    return call.ok(json.dumps(described, ensure_ascii=False))


async def call_mcp_tool(call: Call) -> web.Response:
    """`/mcp` (§4): runs one tool on the caller's session and wraps its output."""
    raw_args = required(call.body, p.B_TOOL_ARGS, str, "body")
    name = required_text(call.body, p.B_TOOL_NAME, "body")
    session_id = required_text(call.body, p.B_SESSION_ID, "body")
    args = parse_json_object(raw_args, "body.args")
    record = call.session(session_id)
    tool = TOOLS.get(name)
    if tool is None:
        if name in p.DESKTOP_TOOLS:
            raise not_available(f"The tool {name!r} (desktop images only)")
        if name.startswith(p.BROWSER_AGENT_TOOL_PREFIX):
            raise not_available(
                f"The tool {name!r} (the browser agent; drive the browser over CDP instead)"
            )
        raise ApiError(400, CODE_TOOL_NOT_FOUND, f"Unknown tool {name!r}")
    async with call.registry.busy(record):
        invocation = ToolInvocation(record.sandbox, args, call.state.config.limits)
        output = await call_tool(tool, invocation)
    content = [{"type": "text", "text": output.text}]
    return call.ok({"isError": output.is_error, "content": content})
