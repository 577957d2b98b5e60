"""aioagb's pytest plugin: AGB Local, a client and a session as fixtures for your tests.

Installing aioagb registers it (the `pytest11` entry point `aioagb`); importing it costs
nothing until a test asks for a fixture. The fixtures:

* `agb_local` (session scope): an embedded AGB Local `LocalServer` on loopback, started in a
  thread of its own with its own event loop, so one server serves every test whatever loop
  each test runs in. Configure it by overriding `agb_local_config`.
* `agb` (per test): an `AsyncAGB` client bound to `agb_local`, made in the test's own event
  loop and closed after the test.
* `agb_session` (per test): a session made from `agb_session_params` (override it; default
  image `agb-code-space-2`), deleted after the test, also when the test failed.

`agb` and `agb_session` are async resources, and async fixtures are run by whichever plugin
runs the test: pytest-asyncio (strict mode needs `@pytest_asyncio.fixture`, auto mode takes
any async fixture, each test's loop has a `loop_scope`) or anyio's plugin (it runs the async
fixtures of tests that use `anyio_backend`). So the public fixtures are plain ones that look
at the test and hand the work to an internal async fixture made for its runner: one per
pytest-asyncio loop scope, and one for anyio. Each is claimed by that runner alone, so the
client and the session live in the loop the test body runs in. See docs/guides/testing.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from .client import AsyncAGB
    from .models import CreateSessionParams
    from .server import LocalServer, ServerConfig
    from .session import AsyncSession

try:  # pytest-asyncio is optional: without it, only anyio's plugin can run the fixtures
    import pytest_asyncio as _pytest_asyncio  # (a `pytest_` name would look like a hook)
except ImportError:  # pragma: no cover - exercised in a subprocess by tests/plugin
    _pytest_asyncio = None  # type: ignore[assignment]

LoopScope = Literal["function", "class", "module", "package", "session"]
# pytest-asyncio's loop scopes: a test runs in the loop of its `loop_scope`.
LOOP_SCOPES: tuple[LoopScope, ...] = ("function", "class", "module", "package", "session")

__all__ = [
    "agb",
    "agb_local",
    "agb_local_config",
    "agb_session",
    "agb_session_params",
]


# --- the server: one per test session, in its own thread ------------------------------------


@pytest.fixture(scope="session")
def agb_local_config() -> ServerConfig | None:
    """The `ServerConfig` of `agb_local`; None (the default) is `ServerConfig()`: loopback, an
    ephemeral port, one random API key. Override it (session scope) to change limits, keys
    or the sandbox backend."""
    return None


@pytest.fixture(scope="session")
def agb_local(agb_local_config: ServerConfig | None) -> Iterator[LocalServer]:
    """An embedded AGB Local for the whole test session (`endpoint`, `api_key`,
    `live_sessions()`), stopped after the last test with every session it still holds."""
    import anyio.from_thread

    from .server import LocalServer

    with (
        anyio.from_thread.start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(LocalServer(agb_local_config)) as server,
    ):
        yield server


# --- what each test gets, made in the test's own loop ---------------------------------------


@pytest.fixture
def agb_session_params() -> CreateSessionParams:
    """What `agb_session` is created from: image `agb-code-space-2`, no labels. Override the
    fixture, or parametrize it, to change the image, labels or idle timeout."""
    from ._protocol import DEFAULT_IMAGE
    from .models import CreateSessionParams

    return CreateSessionParams(image_id=DEFAULT_IMAGE)


@pytest.fixture
def agb(request: pytest.FixtureRequest, agb_local: LocalServer) -> AsyncAGB:
    """An `AsyncAGB` client bound to `agb_local`, closed after the test. Async tests only
    (pytest-asyncio or anyio); it lives in the test's event loop."""
    client: AsyncAGB = request.getfixturevalue(_in_test_loop(request, "agb"))
    return client


@pytest.fixture
def agb_session(request: pytest.FixtureRequest, agb: AsyncAGB) -> AsyncSession:
    """A session made from `agb_session_params`, deleted after the test, also when the test
    failed. A failed delete is an error of the test's teardown."""
    session: AsyncSession = request.getfixturevalue(_in_test_loop(request, "agb_session"))
    return session


def _in_test_loop(request: pytest.FixtureRequest, fixture: str) -> str:
    """The internal fixture that makes `fixture` in the loop of the requesting test."""
    item = request.node
    uses_anyio = "anyio_backend" in request.fixturenames
    if _pytest_asyncio is not None and _pytest_asyncio.is_async_test(item):
        if uses_anyio:
            # Both plugins would claim the internal fixture; whichever loaded last wins, and
            # anyio's loop is not the one pytest-asyncio runs the test in.
            pytest.fail(
                f"{item.name} is run by pytest-asyncio but also uses anyio_backend (anyio_mode "
                f"= auto, or an anyio mark), so {fixture} could land in anyio's event loop "
                "instead of the test's: let one plugin run it (drop one of the marks, or set "
                "that plugin's mode to strict).",
                pytrace=False,
            )
        return f"_aioagb_{fixture}_asyncio_{_asyncio_loop_scope(item)}"
    if uses_anyio:
        backend = request.getfixturevalue("anyio_backend")
        name = backend if isinstance(backend, str) else backend[0]
        if name != "asyncio":
            pytest.fail(
                f"{fixture} runs on asyncio (aioagb's client is aiohttp), and this test runs "
                f"on anyio's {name!r} backend: make the anyio_backend fixture return 'asyncio'.",
                pytrace=False,
            )
        return f"_aioagb_{fixture}_anyio"
    pytest.fail(
        f"{fixture} is for async tests run by pytest-asyncio (@pytest.mark.asyncio, or "
        "asyncio_mode = auto) or by anyio's plugin (@pytest.mark.anyio, or anyio_mode = auto); "
        f"{item.name} is not one.",
        pytrace=False,
    )


def _asyncio_loop_scope(item: Any) -> str:
    """The loop scope pytest-asyncio runs `item` in: its marker's, else the configured
    default (`asyncio_default_test_loop_scope`), else "function"."""
    marker = item.get_closest_marker("asyncio")
    scope = None
    if marker is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    if scope is None:
        try:
            scope = item.config.getini("asyncio_default_test_loop_scope")
        except ValueError:  # a pytest-asyncio without the option
            scope = None
    return str(scope or "function")


# --- the async bodies, one fixture per runner -----------------------------------------------
# Each internal fixture is a new function object: pytest-asyncio marks the function itself
# (with its loop scope), and anyio must not find that mark on its own variant.


def _client_body() -> Callable[[LocalServer], AsyncIterator[AsyncAGB]]:
    async def client(agb_local: LocalServer) -> AsyncIterator[AsyncAGB]:
        from .client import AsyncAGB

        async with AsyncAGB(agb_local.api_key, endpoint=agb_local.endpoint) as opened:
            yield opened

    return client


def _session_body() -> Callable[[AsyncAGB, CreateSessionParams], AsyncIterator[AsyncSession]]:
    async def session(
        agb: AsyncAGB, agb_session_params: CreateSessionParams
    ) -> AsyncIterator[AsyncSession]:
        import anyio

        opened = await agb.open_session(agb_session_params)
        try:
            yield opened
        finally:
            # Shielded and bounded: a cancelled test must not leak it, a stuck delete must
            # not hang the run.
            with anyio.fail_after(agb.cleanup_timeout, shield=True):
                await opened.aclose()

    return session


def _register(name: str, fixture: Any) -> None:
    """Put an internal fixture where pytest looks for this plugin's fixtures."""
    globals()[name] = fixture


for _fixture, _body in (("agb", _client_body), ("agb_session", _session_body)):
    _anyio_name = f"_aioagb_{_fixture}_anyio"
    _register(_anyio_name, pytest.fixture(_body(), name=_anyio_name))
    if _pytest_asyncio is not None:
        for _scope in LOOP_SCOPES:
            _asyncio_name = f"_aioagb_{_fixture}_asyncio_{_scope}"
            _asyncio_fixture: Any = _pytest_asyncio.fixture(loop_scope=_scope, name=_asyncio_name)
            _register(_asyncio_name, _asyncio_fixture(_body()))
