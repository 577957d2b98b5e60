"""`python3 -m benchmarks._serve`: AGB Local for the benchmarks, in its own process.

Like `aioagb serve` (LocalServer, the same routes, fault injection), plus `--backend null`
(see `_null_backend`). Keys come from AGB_LOCAL_API_KEYS. Prints the endpoint line
`_server` waits for, then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
from functools import partial

import anyio

from aioagb.server import LocalServer, ServerConfig
from aioagb.server.config import collect_api_keys
from aioagb.server.faults import FaultPlan

from ._null_backend import NullBackend


async def serve(config: ServerConfig, null_backend: bool) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        backend = NullBackend() if null_backend else None
        async with LocalServer(config, backend=backend) as server:  # type: ignore[arg-type]
            print(f"AGB Local listening on {server.endpoint}", flush=True)
            async for _ in signals:
                break


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks._serve")
    parser.add_argument("--backend", choices=("auto", "null"), default="auto")
    parser.add_argument("--fault", action="append", default=[])
    parser.add_argument("--warm-sandboxes", type=int, default=0)
    parser.add_argument("--warm-sandboxes-max", type=int, default=None)
    args = parser.parse_args()
    config = ServerConfig(
        api_keys=collect_api_keys(),
        warm_sandboxes=args.warm_sandboxes,
        warm_sandboxes_max=args.warm_sandboxes_max,
        faults=FaultPlan.parse(args.fault) if args.fault else None,
    )
    anyio.run(partial(serve, config, args.backend == "null"))


if __name__ == "__main__":
    main()
