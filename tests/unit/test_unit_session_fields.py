"""The session's second-channel fields (§3.1, §3.2) and metrics (§16.2) on the scripted
server."""

from __future__ import annotations

import json

import pytest

from _support.mock_wire import SESSION_ID, Wire
from aioagb import AsyncAGB, AsyncSession, CreateSessionParams, McpTool, SessionMetrics

TOOLS = [{"name": "run_code", "server": "codespace"}, {"Name": "shell", "serverName": "sh"}]


async def test_create_keeps_link_ws_token_and_tool_list(wire: Wire, agb: AsyncAGB) -> None:
    data = {
        "sessionId": SESSION_ID,
        "linkUrl": "https://link",
        "wsUrl": "wss://ws",
        "token": "t",
        "toolList": json.dumps(TOOLS),
    }
    wire.ok("POST", "/mcp/createSession", data)
    session = (await agb.create(CreateSessionParams(image_id="agb-code-space-2"))).session
    assert session is not None
    assert (session.link_url, session.ws_url, session.token) == ("https://link", "wss://ws", "t")
    assert session.get_link_url() == "https://link" and session.get_token() == "t"
    assert session.tool_list == [
        McpTool(name="run_code", server="codespace"),
        McpTool(name="shell", server="sh"),
    ]


async def test_get_session_reads_the_pascal_case_spellings(wire: Wire, agb: AsyncAGB) -> None:
    """§3.2: for these four fields only, getSession's PascalCase spellings count too; a
    tool list sent as a real array is accepted (§7)."""
    data = {"sessionId": SESSION_ID, "LinkUrl": "l", "WsUrl": "w", "Token": "k", "ToolList": TOOLS}
    wire.ok("POST", "/mcp/getSession", data, repeat=True)
    detail = await agb.get_session(SESSION_ID)
    assert detail.data is not None
    assert (detail.data.link_url, detail.data.ws_url, detail.data.token) == ("l", "w", "k")
    assert json.loads(detail.data.tool_list) == TOOLS
    session = (await agb.get(SESSION_ID)).session
    assert session is not None and session.ws_url == "w"
    assert [t.server for t in session.tool_list] == ["codespace", "sh"]


async def test_get_metrics_reads_the_official_fields_and_aliases(wire: Wire, agb: AsyncAGB) -> None:
    payload = {
        "cpu_count": 2,
        "cpu_used_pct": 12.5,
        "disk_total": 100,
        "disk_used": 10,
        "mem_total": 2048,
        "mem_used": 512,
        "rx_rate_kbps": 1.5,
        "tx_rate_KBps": 2,
        "rx_used_kb": None,
        "rx_used_KB": 7,
        "timestamp": "2026-12-04T08:00:00Z",
    }
    wire.tool(json.dumps(payload), rid="r-m")
    result = await AsyncSession(agb, SESSION_ID).get_metrics()
    assert result.success and result.request_id == "r-m" and result.raw == payload
    assert result.metrics == SessionMetrics(
        cpu_count=2,
        cpu_used_pct=12.5,
        disk_total=100,
        disk_used=10,
        mem_total=2048,
        mem_used=512,
        rx_rate_kbyte_per_s=1.5,
        tx_rate_kbyte_per_s=2.0,
        rx_used_kbyte=7.0,
        tx_used_kbyte=0.0,
        timestamp="2026-12-04T08:00:00Z",
    )
    sent = wire.sent[0]
    assert sent.json()["name"] == "get_metrics" and sent.args() == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "Failed to parse get_metrics response: get_metrics returned non-object JSON"),
        ('{"cpu_count": "many"}', "Failed to parse get_metrics response: invalid literal"),
    ],
)
async def test_get_metrics_that_cannot_be_read_fails(
    wire: Wire, agb: AsyncAGB, text: str, message: str
) -> None:
    wire.tool(text)
    result = await AsyncSession(agb, SESSION_ID).get_metrics()
    assert not result.success and result.error_message.startswith(message)


async def test_get_metrics_timeouts_apply_only_when_both_are_given(
    wire: Wire, agb: AsyncAGB
) -> None:
    """§16.2: the per-call timeouts (ms, each at least 1 s) apply when both are given."""
    wire.tool("{}", repeat=True)
    session = AsyncSession(agb, SESSION_ID)
    await session.get_metrics(read_timeout=3000)
    await session.get_metrics(read_timeout=3000, connect_timeout=200)
    assert [s.timeout for s in wire.sent] == [5.0, 4.0]
