"""`session.browser`, `session.get_link` and the browser options on the wire (§15, §16.1):
exact methods, paths, queries and bodies, the official texts, and validation before any
request."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from _support.mock_wire import SESSION_ID, Wire, envelope
from aioagb import (
    AsyncAGB,
    AsyncSession,
    BrowserContext,
    BrowserError,
    BrowserFingerprint,
    BrowserFingerprintContext,
    BrowserOption,
    BrowserProxy,
    BrowserScreen,
    BrowserViewport,
    CreateSessionParams,
    ExtensionOption,
    InvalidArgumentError,
)
from aioagb import _protocol as p


@pytest.fixture
def session(agb: AsyncAGB) -> AsyncSession:
    return AsyncSession(agb, SESSION_ID)


def _query(url: str) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(url.partition("?")[2], keep_blank_values=True)


async def test_initialize_sends_the_option_as_form_encoded_json_text(
    wire: Wire, session: AsyncSession
) -> None:
    wire.ok("POST", p.PATH_INIT_BROWSER, {"port": 9222}, rid="r-init")
    option = BrowserOption(viewport=BrowserViewport(1280, 720), cmd_args=["--lang=fr"])
    assert await session.browser.initialize(option) is True
    sent = wire.sent[-1]
    assert (sent.method, sent.path, sent.body) == ("POST", "/browser/init", b"{}")
    expected_option = json.dumps(option.to_map())
    assert _query(sent.url) == [
        ("sessionId", SESSION_ID),
        ("persistentPath", "/tmp/agb_browser_data"),
        ("browserOption", expected_option),
    ]
    # requests' form encoding: the separators' spaces become '+', JSON punctuation escaped.
    assert "browserOption=%7B%22useStealth%22%3A+false%2C+%22viewport" in sent.query
    assert session.browser.is_initialized() and session.browser.endpoint_router_port == 9222
    assert session.browser.get_option() is option
    # Initialized: nothing more is sent, as the official client.
    assert await session.browser.initialize_async(BrowserOption()) is True
    assert len(wire.sent) == 1


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 200, "payload": envelope({"port": "not a number"})},
        {"status": 200, "payload": envelope({})},
        {"status": 400, "payload": envelope(None, success=False, message="nope")},
    ],
)
async def test_initialize_that_fails_returns_false_and_logs_why(
    wire: Wire, session: AsyncSession, reply: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    wire.route("POST", p.PATH_INIT_BROWSER, **reply)
    assert await session.browser.initialize(BrowserOption()) is False
    assert not session.browser.is_initialized()
    assert "Browser initialization failed" in caplog.text


async def test_get_endpoint_url_asks_every_time_and_raises_the_official_errors(
    wire: Wire, session: AsyncSession
) -> None:
    with pytest.raises(BrowserError, match=r"^Browser is not initialized\. Cannot access"):
        await session.browser.get_endpoint_url()
    assert wire.sent == []
    wire.ok("POST", p.PATH_INIT_BROWSER, {"port": 1})
    await session.browser.initialize(BrowserOption())
    url = "ws://h/devtools/browser/x"
    wire.ok("POST", p.PATH_GET_CDP_LINK, {"url": url}, repeat=True)
    assert await session.browser.get_endpoint_url() == url
    assert await session.browser.get_endpoint_url() == url
    cdp = wire.sent[-1]
    assert (cdp.method, cdp.path, cdp.query, cdp.body) == (
        "POST",
        "/internet/getCdpLink",
        f"sessionId={SESSION_ID}",
        b"{}",
    )
    assert len(wire.sent) == 3


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (envelope({"url": ""}), "Failed to get CDP link: No URL in response"),
        (envelope(None, success=False, message="gone"), "Failed to get CDP link: gone"),
        (envelope(None, success=False), "Failed to get CDP link: Unknown error"),
    ],
)
async def test_get_endpoint_url_failures(
    wire: Wire, session: AsyncSession, payload: dict[str, Any], message: str
) -> None:
    wire.ok("POST", p.PATH_INIT_BROWSER, {"port": 1})
    await session.browser.initialize(BrowserOption())
    wire.route("POST", p.PATH_GET_CDP_LINK, payload=payload)
    with pytest.raises(BrowserError) as raised:
        await session.browser.get_endpoint_url()
    assert raised.value.message == message


async def test_destroy_calls_stop_chrome_and_forgets_the_browser(
    wire: Wire, session: AsyncSession
) -> None:
    with pytest.raises(BrowserError, match="Cannot stop browser"):
        await session.browser.destroy()
    wire.ok("POST", p.PATH_INIT_BROWSER, {"port": 1})
    await session.browser.initialize(BrowserOption())
    wire.tool("Browser stopped")
    await session.browser.destroy()
    stop = wire.sent[-1]
    assert stop.path == "/mcp" and stop.json()["name"] == "stopChrome" and stop.args() == {}
    assert not session.browser.is_initialized()


async def test_initialize_refuses_what_is_not_an_option(session: AsyncSession) -> None:
    with pytest.raises(InvalidArgumentError):
        await session.browser.initialize({"useStealth": False})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "query"),
    [
        ({}, f"sessionId={SESSION_ID}"),
        ({"port": 30100}, f"sessionId={SESSION_ID}&port=30100"),
        (
            {"protocol_type": "wss", "port": 30100},
            f"sessionId={SESSION_ID}&protocolType=wss&port=30100",
        ),
    ],
)
async def test_get_link_sends_only_the_given_port_and_protocol_and_returns_the_url(
    wire: Wire, session: AsyncSession, kwargs: dict[str, Any], query: str
) -> None:
    wire.ok("GET", p.PATH_GET_LINK, {"url": "http://link/"}, rid="r-link")
    result = await session.get_link(**kwargs)
    assert (result.success, result.data, result.request_id) == (True, "http://link/", "r-link")
    sent = wire.sent[-1]
    assert (sent.method, sent.path, sent.query, sent.body) == (
        "GET",
        "/internet/getLink",
        query,
        None,
    )


@pytest.mark.parametrize(
    ("status", "payload", "message"),
    [
        (400, envelope(None, success=False, message="the server's words"), "Failed to get link"),
        (200, envelope({"url": ""}), "No URL found in response"),
        (200, envelope("a string"), "Failed to get link: data is not an object"),
    ],
)
async def test_get_link_failures_read_as_the_official_ones(
    wire: Wire, session: AsyncSession, status: int, payload: Any, message: str
) -> None:
    wire.route("GET", p.PATH_GET_LINK, status=status, payload=payload)
    result = await session.get_link(port=8080)
    assert not result.success and result.error_message == message


@pytest.mark.parametrize(
    "kwargs", [{"port": 0}, {"port": 70000}, {"port": "80"}, {"protocol_type": 1}]
)
async def test_get_link_arguments_are_checked_before_sending(
    wire: Wire, session: AsyncSession, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgumentError):
        await session.get_link(**kwargs)
    assert wire.sent == []


# --- the options: the official to_map() output and validation --------------------------------


def test_the_default_option_is_the_official_one() -> None:
    assert BrowserOption().to_map() == {
        "useStealth": False,
        "solveCaptchas": False,
        "extensionPath": "/tmp/extensions/",
    }


def test_every_field_in_the_official_order() -> None:
    option = BrowserOption(
        use_stealth=True,
        user_agent="UA",
        viewport=BrowserViewport(800, 600),
        screen=BrowserScreen(),
        fingerprint=BrowserFingerprint(devices=["mobile"], locales=["fr-FR"]),
        fingerprint_format={"fingerprint": {"a": 1}},
        fingerprint_persistent=True,
        proxies=[BrowserProxy("built-in", strategy="polling", pollsize=3)],
        cmd_args=["--x"],
        default_navigate_url="https://a.test",
        browser_type="chromium",
    )
    wire_map = option.to_map()
    assert list(wire_map) == [
        "useStealth", "userAgent", "viewport", "screen", "fingerprint", "fingerprintRawData",
        "fingerprintPersistPath", "solveCaptchas", "proxies", "extensionPath", "cmdArgs",
        "defaultNavigateUrl", "browserType",
    ]  # fmt: skip
    assert wire_map["screen"] == {"width": 1920, "height": 1080}
    assert wire_map["fingerprint"] == {"devices": ["mobile"], "locales": ["fr-FR"]}
    assert wire_map["fingerprintPersistPath"] == "/tmp/agb_browser_fingerprint/fingerprint.json"
    assert wire_map["proxies"] == [{"type": "built-in", "strategy": "polling", "pollsize": 3}]
    assert BrowserProxy("custom", server="h:1", username="u").to_map() == {
        "type": "custom", "server": "h:1", "username": "u"
    }  # fmt: skip
    managed = BrowserProxy("managed", strategy="sticky", user_id="u", city="x")
    assert managed.to_map() == {"type": "managed", "strategy": "sticky", "userId": "u", "city": "x"}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BrowserProxy("other"), "proxy_type must be custom, built-in, or managed"),
        (lambda: BrowserProxy("custom"), "server is required for custom proxy type"),
        (lambda: BrowserProxy("built-in"), "strategy is required for built-in proxy type"),
        (
            lambda: BrowserProxy("built-in", strategy="sticky"),
            "strategy must be restricted or polling for built-in proxy type",
        ),
        (
            lambda: BrowserProxy("built-in", strategy="polling", pollsize=0),
            "pollsize must be greater than 0 for polling strategy",
        ),
        (lambda: BrowserProxy("managed", strategy="polling"), "user_id is required"),
        (
            lambda: BrowserOption(proxies=[]) and BrowserOption(proxies="x"),
            "proxies must be a list",
        ),
        (
            lambda: BrowserOption(proxies=[BrowserProxy("custom", server="a")] * 2),
            "proxies list length must be limited to 1",
        ),
        (lambda: BrowserOption(extension_path=" "), "extension_path cannot be empty"),
        (lambda: BrowserOption(cmd_args="--x"), "cmd_args must be a list"),
        (
            lambda: BrowserOption(browser_type="firefox"),
            "browser_type must be 'chrome' or 'chromium'",
        ),
        (lambda: BrowserFingerprint(devices=["tv"]), "device must be desktop or mobile"),
        (
            lambda: BrowserFingerprint(operating_systems=["beos"]),
            "operating_system must be windows, macos, linux, android or ios",
        ),
        (lambda: BrowserViewport(0, 10), "width must be a positive integer"),
        (lambda: BrowserFingerprintContext(" "), "fingerprint_context_id cannot be empty"),
        (lambda: ExtensionOption("ctx", []), "extension_ids cannot be empty"),
        (lambda: ExtensionOption("", ["a"]), "context_id cannot be empty"),
    ],
)
def test_invalid_options_raise_the_official_messages(make: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        make()


async def test_a_browser_context_adds_the_official_mounts_in_order(
    wire: Wire, agb: AsyncAGB
) -> None:
    context = BrowserContext(
        "c-profile",
        extension_option=ExtensionOption("c-ext", ["ext_a.zip"]),
        fingerprint_context=BrowserFingerprintContext("c-fp"),
    )
    params = CreateSessionParams(image_id="agb-browser-use-1", browser_context=context)
    assert params.context_syncs == []
    wire.ok("POST", p.PATH_CREATE_SESSION, {"sessionId": "s-9"})
    wire.ok("GET", p.PATH_GET_CONTEXT_INFO, {"contextStatus": ""})
    created = await agb.create(params)
    assert created.success, created.error_message
    mounts = wire.sent[0].json()["persistenceDataList"]
    assert [(m["contextId"], m["path"]) for m in mounts] == [
        ("c-ext", "/tmp/extensions/"),
        ("c-fp", "/tmp/agb_browser_fingerprint"),
        ("c-profile", "/tmp/agb_browser_data"),
    ]
    ext, fingerprint, profile = (json.loads(m["policy"]) for m in mounts)
    assert ext["uploadPolicy"]["autoUpload"] is False
    assert ext["deletePolicy"] == {"syncLocalFile": False}
    assert ext["bwList"] == {"whiteLists": [{"path": "ext_a.zip", "excludePaths": []}]}
    assert fingerprint["bwList"] == {"whiteLists": []}
    assert profile["uploadPolicy"]["autoUpload"] is True
    assert [w["path"] for w in profile["bwList"]["whiteLists"]] == [
        "/Local State", "/Default/Cookies", "/Default/Cookies-journal"
    ]  # fmt: skip
    # The mount that auto-uploads is uploaded when the session's `async with` ends.
    session = created.session
    assert session is not None
    assert [s.path for s in session.context_syncs][-1] == "/tmp/agb_browser_data"


def test_browser_context_and_session_params_reject_invalid_arguments() -> None:
    with pytest.raises(InvalidArgumentError):
        BrowserContext("")
    with pytest.raises(InvalidArgumentError):
        BrowserContext("c", auto_upload="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        CreateSessionParams(image_id="x", browser_context="c")  # type: ignore[arg-type]
