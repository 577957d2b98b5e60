"""The fault scenario of the reliability issue, shared by its test and by `scripts/soak.py`.

One run, for one seed: AGB Local with 10% injected faults (500, 429, dropped connections,
before and after the handler) and latency spikes on every route the SDK uses, plus random
cancellations on the client side; 200 sessions through `create_many`, then 200 uses of a
`SessionPool`. Afterwards the server must hold 0 sessions of the key, and every successful
result must have come back exactly once.

The sandbox backend is the in-process fake of `_support.fake_sandbox`: this scenario tests the
SDK and the server's protocol under faults, not the sandboxes (which have their own tests).
"""

from __future__ import annotations

import math
import random
import secrets
import tempfile
from pathlib import Path

import anyio
import attrs

from _support.fake_sandbox import FakeBackend
from aioagb import (
    AiohttpTransport,
    AsyncAGB,
    CreateSessionParams,
    RetryPolicy,
    SessionPool,
    TransportError,
    TransportRequest,
    TransportResponse,
)
from aioagb.server import LocalServer, ServerConfig
from aioagb.server.faults import FaultPlan

ROUTES = ("create", "tool", "release", "status", "list", "get", "labels")
RETRIES = RetryPolicy(attempts=8, wait_initial=0.005, wait_max=0.05, wait_jitter=0.005)
PARAMS = CreateSessionParams(image_id="agb-code-space-2", labels={"scenario": "faults"})


class FaultCountingTransport(AiohttpTransport):
    """The real transport, counting the faults the client saw (so a run proves it had some)."""

    def __init__(self) -> None:
        super().__init__()
        self.faults_seen = 0

    async def send(self, request: TransportRequest) -> TransportResponse:
        try:
            reply = await super().send(request)
        except TransportError:
            self.faults_seen += 1
            raise
        self.faults_seen += reply.status in (429, 500)
        return reply


@attrs.define
class Report:
    seed: int
    batch_sessions: int = 0
    batch_failures: int = 0
    batch_cancelled: bool = False
    results: list[str] = attrs.field(factory=list)
    pool_uses_ok: int = 0
    pool_uses_cancelled: int = 0
    left_on_server: int = -1
    faults_seen: int = 0

    def problems(self) -> list[str]:
        found = []
        if self.left_on_server != 0:
            found.append(f"{self.left_on_server} sessions left on the server")
        if len(self.results) != len(set(self.results)):
            found.append("a successful result came back more than once")
        return found


def fault_plan(seed: int, rate: float = 0.1) -> FaultPlan:
    spec = f"error={rate},kinds=500+429+drop,spike_rate=0.02,spike=0.2"
    return FaultPlan.parse([f"{route}:{spec}" for route in ROUTES], seed)


async def run_scenario(seed: int, sessions: int = 200) -> Report:
    report = Report(seed)
    rng = random.Random(seed)
    key = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory() as root:
        config = ServerConfig(api_keys=(key,), faults=fault_plan(seed))
        async with LocalServer(config, backend=FakeBackend(Path(root))) as server:
            transport = FaultCountingTransport()
            async with AsyncAGB(
                key,
                endpoint=server.endpoint,
                retry=RETRIES,
                orphan_grace=0.3,
                transport=transport,
            ) as agb:
                await _batch(agb, sessions, rng, report)
                await _pool(agb, sessions, rng, report)
            report.left_on_server = server.live_sessions(key)
            report.faults_seen = transport.faults_seen
    return report


async def _batch(agb: AsyncAGB, count: int, rng: random.Random, report: Report) -> None:
    # One run in three cancels the whole batch at a random moment.
    deadline = rng.uniform(0.05, 0.6) if rng.random() < 1 / 3 else math.inf
    with anyio.move_on_after(deadline) as scope:
        batch = await agb.create_many(PARAMS, count, concurrency=32, partial=True)
        report.batch_sessions, report.batch_failures = len(batch.sessions), len(batch.failures)
        try:
            async with anyio.create_task_group() as tg:
                for index, session in enumerate(batch.sessions):
                    cut = rng.uniform(0, 0.05) if rng.random() < 0.1 else math.inf
                    tg.start_soon(_run, session, f"batch-{index}", cut, report)
        finally:
            await agb.delete_sessions(batch.sessions)
    report.batch_cancelled = scope.cancelled_caught


async def _run(session: object, marker: str, cut: float, report: Report) -> None:
    with anyio.move_on_after(cut):
        result = await session.code.run(f"print({marker!r})", "python")  # type: ignore[attr-defined]
        if result.success:
            report.results.append("".join(result.logs.stdout).strip())


async def _pool(agb: AsyncAGB, uses: int, rng: random.Random, report: Report) -> None:
    pool = SessionPool(
        agb, PARAMS, min_size=4, max_size=16, acquire_timeout=60, health_check_after=0.2
    )
    cuts = [rng.uniform(0, 0.05) if rng.random() < 0.1 else math.inf for _ in range(uses)]
    limiter = anyio.CapacityLimiter(32)

    async def use(index: int) -> None:
        async with limiter:
            with anyio.move_on_after(cuts[index]) as scope:
                async with pool.session() as session:
                    result = await session.code.run(f"print('pool-{index}')", "python")
                    if result.success:
                        report.results.append("".join(result.logs.stdout).strip())
                        report.pool_uses_ok += 1
            report.pool_uses_cancelled += scope.cancelled_caught

    async with pool, anyio.create_task_group() as tg:
        for index in range(uses):
            tg.start_soon(use, index)
