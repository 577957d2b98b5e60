"""Metrics and logs from hooks: request latency per operation, retries, sessions created and
deleted, and every event as one JSON log line — with no API key anywhere.

    python examples/observability.py
"""

import asyncio
import json
import logging
import statistics
from collections import defaultdict

from aioagb import AsyncAGB, CreateSessionParams, Hooks, RequestEvent, RetryEvent, SessionEvent


class Metrics:
    """A tiny in-process metrics sink; in production, feed Prometheus or OpenTelemetry here."""

    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.retries = 0
        self.live_sessions = 0

    def on_request(self, event: RequestEvent) -> None:
        self.latency[event.operation].append(event.duration_s)

    def on_retry(self, event: RetryEvent) -> None:
        self.retries += 1

    def on_created(self, event: SessionEvent) -> None:
        self.live_sessions += 1

    def on_deleted(self, event: SessionEvent) -> None:
        self.live_sessions -= 1

    def hooks(self) -> Hooks:
        return Hooks(
            on_request=self.on_request,
            on_retry=self.on_retry,
            on_session_created=self.on_created,
            on_session_deleted=self.on_deleted,
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per record; aioagb's events carry their fields in `record.aioagb`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"logger": record.name, "level": record.levelname, "message": record.getMessage()}
        line.update(getattr(record, "aioagb", {}))
        return json.dumps(line, default=str)


async def main() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    sdk_logger = logging.getLogger("aioagb")
    sdk_logger.addHandler(handler)
    sdk_logger.setLevel(logging.DEBUG)  # request/retry/session events are DEBUG records

    metrics = Metrics()
    async with AsyncAGB.local(hooks=metrics.hooks()) as agb:
        params = CreateSessionParams(image_id="agb-code-space-2")
        async with agb.sessions(params, count=3) as sessions:
            for session in sessions:
                await session.code.run("sum(range(10))", "python")
            print("live sessions while working:", metrics.live_sessions)
    print("live sessions afterwards:", metrics.live_sessions)
    for operation, times in sorted(metrics.latency.items()):
        print(f"{operation:20} n={len(times):2}  median={statistics.median(times) * 1000:.1f} ms")
    print("retries:", metrics.retries)


if __name__ == "__main__":
    asyncio.run(main())
