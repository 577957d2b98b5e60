"""Helpers for the concurrency layer's tests: AGB Local with fault plans, in the test's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aioagb import AiohttpTransport, AsyncAGB, RetryPolicy, TransportRequest, TransportResponse
from aioagb.server import LocalServer, ServerConfig
from aioagb.server.faults import FaultPlan

IMAGE = "agb-code-space-2"
FAST_RETRIES = RetryPolicy(attempts=6, wait_initial=0.01, wait_max=0.1, wait_jitter=0.01)


class CountingTransport(AiohttpTransport):
    """The real transport, counting requests per operation (e.g. `ListSession`)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: dict[str, int] = {}

    async def send(self, request: TransportRequest) -> TransportResponse:
        self.sent[request.operation] = self.sent.get(request.operation, 0) + 1
        return await super().send(request)


@asynccontextmanager
async def local_server(*faults: str, seed: int = 0, **config: object) -> AsyncIterator[LocalServer]:
    plan = FaultPlan.parse(list(faults), seed) if faults else None
    async with LocalServer(ServerConfig(faults=plan, **config)) as server:  # type: ignore[arg-type]
        yield server


def client_for(server: LocalServer, **options: object) -> AsyncAGB:
    options.setdefault("retry", FAST_RETRIES)
    return AsyncAGB(server.api_key, endpoint=server.endpoint, **options)  # type: ignore[arg-type]
