"""Configuration (agb-wire.md §1.1-§1.3, docs/sdk.md "Configuration") and the API key's
secrecy: never in a repr, an exception text or a log record."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from _support.mock_wire import API_KEY, BASE, SESSION_ID, Wire, client, envelope, not_found, refused
from aioagb import (
    AGBError,
    AsyncAGB,
    AsyncSession,
    ConfigurationError,
    CreateSessionParams,
    Hooks,
    RetryPolicy,
)


def write_env(text: str) -> None:
    Path(".env").write_text(text)  # the working directory is the test's tmp_path


def test_argument_beats_environment_beats_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    write_env("AGB_API_KEY=from-dotenv\nAGB_ENDPOINT=dotenv.host\nAGB_TIMEOUT_MS=3000\n")
    only_dotenv = AsyncAGB()
    assert (only_dotenv.config.api_key, only_dotenv.config.endpoint) == (
        "from-dotenv",
        "https://dotenv.host",
    )
    assert only_dotenv.config.request_timeout_s == 3.0

    monkeypatch.setenv("AGB_API_KEY", "from-env")
    monkeypatch.setenv("AGB_ENDPOINT", "http://env.host:8000")
    monkeypatch.setenv("AGB_TIMEOUT_MS", "4000")
    from_env = AsyncAGB()
    assert (from_env.config.api_key, from_env.config.endpoint) == (
        "from-env",
        "http://env.host:8000",
    )
    assert from_env.config.request_timeout_s == 4.0

    explicit = AsyncAGB("from-arg", endpoint="arg.host", timeout=9)
    assert (explicit.config.api_key, explicit.config.endpoint) == ("from-arg", "https://arg.host")
    assert explicit.config.request_timeout_s == 9.0


def test_dotenv_key_is_found_on_the_first_construction_and_environ_is_untouched() -> None:
    """§1.2 quirk of the official client (the first AGB() misses a key only in .env) is
    fixed, and .env is read without changing os.environ."""
    write_env("AGB_API_KEY=dotenv-only\n")
    assert AsyncAGB().config.api_key == "dotenv-only"
    assert "AGB_API_KEY" not in os.environ


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="AGB_API_KEY"):
        AsyncAGB()


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_key_or_endpoint_is_ignored(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    """§1.1: an empty AGB_ENDPOINT is ignored (the default applies)."""
    monkeypatch.setenv("AGB_API_KEY", blank)
    monkeypatch.setenv("AGB_ENDPOINT", blank)
    write_env("AGB_API_KEY=k\n")
    assert AsyncAGB().config.api_key == "k"
    assert AsyncAGB().config.endpoint == "https://sdk-api.agb.cloud"  # §1.1 default


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("127.0.0.1:8000", "https://127.0.0.1:8000"),  # §1.1 [verified]
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://h/prefix/", "https://h/prefix"),
        ("  sdk-api.agb.cloud  ", "https://sdk-api.agb.cloud"),
    ],
)
def test_endpoint_defaults_to_https_and_drops_spaces_and_a_trailing_slash(
    given: str, base: str
) -> None:
    assert AsyncAGB("k", endpoint=given).config.endpoint == base


@pytest.mark.parametrize(
    ("ms", "seconds"),
    [
        # The official client integer-divides by 1000 (1500 -> 1 s, and below 1000 -> 0,
        # which breaks every call, §1.3); the SDK keeps the fraction instead.
        ("1500", 1.5),
        ("500", 0.5),
        (None, 60.0),  # §1.1 default: 60 000 ms
    ],
)
def test_agb_timeout_ms_sets_the_request_timeout_keeping_fractions(
    monkeypatch: pytest.MonkeyPatch, ms: str | None, seconds: float
):
    if ms is not None:
        monkeypatch.setenv("AGB_TIMEOUT_MS", ms)
    assert AsyncAGB("k").config.request_timeout_s == seconds


@pytest.mark.parametrize(
    ("env", "timeout", "message"),
    [
        ("abc", None, "AGB_TIMEOUT_MS must be an integer number of milliseconds"),
        ("0", None, "timeout must be a positive number"),
        (None, 0, "timeout must be a positive number"),
        (None, float("inf"), "timeout must be a positive number"),
        (None, "5", "timeout must be a number of seconds"),
    ],
)
def test_bad_timeout_or_agb_timeout_ms_raises_configuration_error(
    monkeypatch: pytest.MonkeyPatch, env: str | None, timeout: object, message: str
) -> None:
    if env is not None:
        monkeypatch.setenv("AGB_TIMEOUT_MS", env)
    with pytest.raises(ConfigurationError, match=message):
        AsyncAGB("k", timeout=timeout)  # type: ignore[arg-type]


# --- the key stays secret ----------------------------------------------------------------


def test_key_not_in_reprs() -> None:
    agb = client()
    assert API_KEY not in repr(agb) and API_KEY not in str(agb)
    assert API_KEY not in repr(agb.config)
    assert API_KEY not in repr(AsyncSession(agb, SESSION_ID))


async def test_key_never_in_exceptions_or_log_records(
    wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    """Every kind of failure, with DEBUG logging of requests, retries and sessions, and a
    hook that raises: the key shows up only in the authorization header that was sent."""
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []

    def failing_hook(event: object) -> None:
        raise RuntimeError("hook failed")

    wire.route("POST", "/mcp/createSession", exception=refused())
    wire.route("POST", "/mcp/createSession", status=401, payload=envelope(None, success=False))
    wire.route("POST", "/mcp/createSession", timeout=True)
    wire.route("POST", "/mcp/createSession", status=403, payload=envelope(None, success=False))
    wire.ok("GET", "/sdk/ListSession", [], repeat=True)
    wire.ok("POST", "/mcp/createSession", {"sessionId": SESSION_ID})
    wire.route("POST", "/mcp", status=500, body="Internal error")
    wire.tool("boom", is_error=True)
    wire.ok("POST", "/mcp/releaseSessionAsync")
    wire.route("POST", "/mcp/getSessionInfo", status=400, payload=not_found())
    wire.route("GET", "/sdk/GetLabel", status=403, payload=envelope(None, success=False))

    hooks = Hooks(on_request=failing_hook, on_retry=failing_hook, on_session_created=failing_hook)
    params = CreateSessionParams(image_id="agb-code-space-2")
    async with client(
        hooks=hooks, retry=RetryPolicy(attempts=2, wait_initial=0, wait_jitter=0)
    ) as agb:
        for _ in range(2):
            result = await agb.create(params)
            errors.append(result.exception)
        try:
            await agb.open_session(params)
        except AGBError as exc:
            errors.append(exc)
        async with agb.session(params) as session:
            for call in (
                session.code.run("1", "python"),
                session.file.remove("/x"),
                session.get_labels(),
            ):
                errors.append((await call).exception)
    for bad in (lambda: AsyncAGB(), lambda: AsyncSession(agb, "")):
        try:
            bad()
        except AGBError as exc:
            errors.append(exc)

    assert len([e for e in errors if e is not None]) == 8
    for exc in errors:
        assert API_KEY not in str(exc) and API_KEY not in repr(exc)
        assert API_KEY not in str(getattr(exc, "__cause__", ""))
    assert caplog.records, "DEBUG logging produced records"
    assert any(getattr(r, "aioagb", None) for r in caplog.records)
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in repr(record.__dict__)
    # ... and yet it was sent, on every request
    assert wire.sent and all(s.headers["authorization"] == f"Bearer {API_KEY}" for s in wire.sent)
    assert all(s.url.startswith(BASE) and API_KEY not in s.url for s in wire.sent)


def test_hooks_events_hold_no_secret() -> None:
    """Nothing a hook sees holds the key or a header (docs: _hooks)."""
    from aioagb import RequestEvent

    fields = {f.name for f in RequestEvent.__attrs_attrs__}  # type: ignore[attr-defined]
    assert not fields & {"headers", "api_key", "url"}
