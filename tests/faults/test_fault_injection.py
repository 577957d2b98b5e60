"""The fault injector: seeded, per route, before or after the handler."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from aioagb import _protocol as p
from aioagb.server.faults import FaultInjector, FaultPlan, RouteFaults, fault_middleware


def _sequence(plan: FaultPlan, path: str, n: int) -> list[tuple[float, str | None, bool]]:
    injector = FaultInjector(plan)
    out = []
    for _ in range(n):
        d = injector.decide(path)
        out.append((d.delay_s, d.fault, d.after_handler))
    return out


def test_same_seed_gives_the_same_faults_and_other_seeds_differ() -> None:
    plan = FaultPlan.parse(["*:error=0.3,spike_rate=0.2,spike=0.5"], seed=11)
    first = _sequence(plan, p.PATH_CREATE_SESSION, 200)
    assert first == _sequence(plan, p.PATH_CREATE_SESSION, 200)
    other = FaultPlan.parse(["*:error=0.3,spike_rate=0.2,spike=0.5"], seed=12)
    assert first != _sequence(other, p.PATH_CREATE_SESSION, 200)


def test_routes_draw_independently() -> None:
    """Traffic on one route does not shift another route's sequence."""
    plan = FaultPlan.parse(["*:error=0.5"], seed=5)
    alone = _sequence(plan, p.PATH_CALL_TOOL, 50)
    injector = FaultInjector(plan)
    mixed = []
    for _ in range(50):
        injector.decide(p.PATH_LIST_SESSIONS)
        d = injector.decide(p.PATH_CALL_TOOL)
        mixed.append((d.delay_s, d.fault, d.after_handler))
    assert mixed == alone


def test_error_rate_and_kinds_are_respected() -> None:
    plan = FaultPlan(seed=1, default=RouteFaults(error_rate=0.1, kinds=("500", "429")))
    faults = [f for _, f, _ in _sequence(plan, "/x", 5000)]
    failed = [f for f in faults if f is not None]
    assert 0.08 < len(failed) / len(faults) < 0.12
    assert set(failed) == {"500", "429"}


def test_a_429_never_follows_the_handler() -> None:
    plan = FaultPlan(seed=2, default=RouteFaults(error_rate=1.0))
    decisions = _sequence(plan, "/x", 300)
    assert all(not after for _, kind, after in decisions if kind == "429")
    assert any(after for _, kind, after in decisions if kind == "500")
    assert any(not after for _, kind, after in decisions if kind == "500")


def test_aliases_and_latency_parse() -> None:
    plan = FaultPlan.parse(["create:latency=0.2", "release:latency=0.1", "tool:latency=0.05"])
    assert plan.for_path(p.PATH_CREATE_SESSION).latency_s == 0.2
    assert plan.for_path(p.PATH_RELEASE_ASYNC).latency_s == 0.1
    assert plan.for_path(p.PATH_RELEASE).latency_s == 0.1
    assert plan.for_path(p.PATH_CALL_TOOL).latency_s == 0.05
    assert plan.for_path(p.PATH_GET_LABELS).latency_s == 0.0


@pytest.mark.parametrize(
    "spec",
    ["nowhere:latency=1", "*:latency", "*:colour=red", "*:kinds=500+teapot", "*:error=2"],
)
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        FaultPlan.parse([spec])


Client = TestClient[web.Request, web.Application]


async def _client_for(plan: FaultPlan) -> tuple[Client, list[int]]:
    calls: list[int] = []

    async def create(_: web.Request) -> web.Response:
        calls.append(1)
        return web.json_response({"success": True})

    app = web.Application(middlewares=[fault_middleware(FaultInjector(plan))])
    app.router.add_post(p.PATH_CREATE_SESSION, create)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client, calls


async def test_injected_errors_use_the_protocol_envelope() -> None:
    plan = FaultPlan(default=RouteFaults(error_rate=1.0, kinds=("429",)))
    client, calls = await _client_for(plan)
    try:
        resp = await client.post(p.PATH_CREATE_SESSION, json={})
        body = await resp.json()
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "0"
        assert body[p.KEY_SUCCESS] is False
        assert body[p.KEY_HTTP_STATUS] == 429
        assert body[p.KEY_REQUEST_ID]
        assert calls == []  # refused before the handler
    finally:
        await client.close()


async def test_dropped_connections_close_without_an_answer() -> None:
    plan = FaultPlan(seed=4, default=RouteFaults(error_rate=1.0, kinds=("drop",)))
    client, calls = await _client_for(plan)
    try:
        for _ in range(20):
            with pytest.raises(aiohttp.ServerDisconnectedError):
                await client.post(p.PATH_CREATE_SESSION, json={})
        # Some drops happened after the handler ran: the work was done, the answer lost.
        assert 0 < len(calls) < 20
    finally:
        await client.close()
