"""Test-only fault injection for AGB Local: per-route latency and failures, seeded.

Tests and benchmarks use it to put the SDK under the conditions the cloud produces on a bad
day: slow routes, 500s, 429s and connections dropped mid-request. A failure can happen
*before* the handler runs (nothing changed on the server) or *after* it (the change happened,
but the client never sees the answer): the second kind is what leaks sessions in naive
clients, so the injector produces both.

Every decision comes from a per-route random generator seeded with `(seed, route)`, so the
sequence of faults each route produces is the same on every run with the same seed.

Never enable this on a server that real users talk to.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Mapping

import anyio
import attrs
from aiohttp import web
from aiohttp.typedefs import Middleware

from .. import _protocol as p
from .middleware import NextHandler

FAULT_KINDS = ("500", "429", "drop")

# Short names the CLI and benchmarks use for the routes that matter most.
ROUTE_ALIASES: Mapping[str, tuple[str, ...]] = {
    "create": (p.PATH_CREATE_SESSION,),
    "tool": (p.PATH_CALL_TOOL,),
    "release": (p.PATH_RELEASE_ASYNC, p.PATH_RELEASE),
    "list": (p.PATH_LIST_SESSIONS,),
    "get": (p.PATH_GET_SESSION,),
    "status": (p.PATH_GET_SESSION_INFO,),
    "labels": (p.PATH_GET_LABELS, p.PATH_SET_LABELS),
}


_FRACTION = [attrs.validators.ge(0.0), attrs.validators.le(1.0)]


@attrs.frozen
class RouteFaults:
    """What happens to the requests of one route."""

    latency_s: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    error_rate: float = attrs.field(default=0.0, validator=_FRACTION)
    kinds: tuple[str, ...] = attrs.field(default=FAULT_KINDS)
    spike_rate: float = attrs.field(default=0.0, validator=_FRACTION)
    spike_s: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))

    @kinds.validator
    def _check_kinds(self, _: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
        unknown = set(value) - set(FAULT_KINDS)
        if not value or unknown:
            raise ValueError(f"fault kinds must be a non-empty subset of {FAULT_KINDS}: {value}")


@attrs.frozen
class FaultPlan:
    """Faults per route path; `default` applies to every route not named."""

    seed: int = 0
    default: RouteFaults = RouteFaults()
    routes: Mapping[str, RouteFaults] = attrs.field(factory=dict)

    def for_path(self, path: str) -> RouteFaults:
        """The faults of the route at `path` (the plan's default when it names none)."""
        return self.routes.get(path, self.default)

    @classmethod
    def parse(cls, specs: list[str], seed: int = 0) -> FaultPlan:
        """Builds a plan from CLI specs like `create:latency=0.2,error=0.1,kinds=500+drop`.

        The part before `:` is a route alias (see ROUTE_ALIASES), a path, or `*` for every
        route. Keys: latency, error, kinds (joined by `+`), spike_rate, spike.
        """
        default = RouteFaults()
        routes: dict[str, RouteFaults] = {}
        for spec in specs:
            target, _, options = spec.partition(":")
            faults = _parse_options(options)
            if target == "*":
                default = faults
                continue
            for path in ROUTE_ALIASES.get(target, (target,)):
                if not path.startswith("/"):
                    raise ValueError(f"unknown route {target!r} in fault spec {spec!r}")
                routes[path] = faults
        return cls(seed=seed, default=default, routes=routes)


_OPTION_NAMES = {
    "latency": "latency_s",
    "error": "error_rate",
    "spike_rate": "spike_rate",
    "spike": "spike_s",
}


def _parse_options(options: str) -> RouteFaults:
    values: dict[str, object] = {}
    for item in filter(None, re.split(r"\s*,\s*", options.strip())):
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"fault option {item!r} is not key=value")
        if key == "kinds":
            values["kinds"] = tuple(raw.split("+"))
        elif key in _OPTION_NAMES:
            values[_OPTION_NAMES[key]] = float(raw)
        else:
            known = ", ".join(["kinds", *_OPTION_NAMES])
            raise ValueError(f"unknown fault option {key!r}; known: {known}")
    return RouteFaults(**values)  # type: ignore[arg-type]


@attrs.frozen
class _Decision:
    delay_s: float
    fault: str | None  # one of FAULT_KINDS, or None
    after_handler: bool


class FaultInjector:
    """Draws the fault decisions, route by route, from seeded generators."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._generators: dict[str, random.Random] = {}
        self.injected: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)

    def decide(self, path: str) -> _Decision:
        """The next decision for a request to `path`: its delay, its fault, and whether the fault
        comes after the handler ran."""
        faults = self.plan.for_path(path)
        rng = self._generators.get(path)
        if rng is None:
            rng = self._generators[path] = random.Random(f"{self.plan.seed}:{path}")
        # Always draw the same number of values so one route's sequence does not depend on
        # which faults it happened to produce earlier.
        spike, fail, kind_draw, when = rng.random(), rng.random(), rng.random(), rng.random()
        delay = faults.latency_s + (faults.spike_s if spike < faults.spike_rate else 0.0)
        fault = None
        if fail < faults.error_rate:
            fault = faults.kinds[int(kind_draw * len(faults.kinds)) % len(faults.kinds)]
            self.injected[fault] += 1
        # A 429 means "refused": it never follows a change on the server.
        return _Decision(delay_s=delay, fault=fault, after_handler=fault != "429" and when < 0.5)


def fault_middleware(injector: FaultInjector) -> Middleware:
    """An aiohttp middleware that applies `injector`'s decisions to every request."""

    @web.middleware
    async def inject_faults(request: web.Request, handler: NextHandler) -> web.StreamResponse:
        decision = injector.decide(_normalised_path(request.path))
        if decision.delay_s:
            await anyio.sleep(decision.delay_s)
        if decision.fault is None:
            return await handler(request)
        if decision.after_handler:
            await handler(request)
        if decision.fault == "drop":
            _drop_connection(request)
        return _fault_reply(decision.fault)

    return inject_faults


def _normalised_path(path: str) -> str:
    # The official client joins endpoint and path by concatenation, so `//mcp/...` happens.
    return re.sub(r"/{2,}", "/", path)


def _drop_connection(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


def _fault_reply(kind: str) -> web.Response:
    status = 429 if kind == "429" else 500
    code = "Throttling.InjectedFault" if status == 429 else "InternalError.InjectedFault"
    request_id = f"fault-{uuid.uuid4().hex[:12]}"
    body = {
        p.KEY_SUCCESS: False,
        p.KEY_CODE: code,
        p.KEY_MESSAGE: f"injected fault ({kind})",
        p.KEY_HTTP_STATUS: status,
        p.KEY_REQUEST_ID: request_id,
        p.KEY_DATA: None,
    }
    headers = {p.HEADER_REQUEST_ID: request_id}
    if status == 429:
        headers["Retry-After"] = "0"
    return web.json_response(body, status=status, headers=headers)
