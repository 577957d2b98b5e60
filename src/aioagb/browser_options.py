"""Browser options: how a session's browser starts (`BrowserOption`, docs/protocol.md §15.2)
and how its profile, fingerprint and extensions persist (`BrowserContext`, §13.6). Pure.

The names, defaults, validation messages and `to_map()` output are the official SDK's
(`agb.modules.browser`, `agb.session_params.BrowserContext`, `agb.extension.ExtensionOption`).
Every class is a frozen attrs class validated on construction: an invalid value raises
`InvalidArgumentError` (a `ValueError`, as the official SDK raises) before anything is sent.
Two differences: `BrowserOption.fingerprint_format` takes the fingerprint's JSON object (a
mapping) instead of the official `FingerprintFormat` class, and `BrowserContext` adds its
context syncs through `CreateSessionParams.all_context_syncs()` instead of changing
`context_syncs`.

AGB Local honours the viewport, screen, user agent, command-line arguments, first page and
browser type; it refuses stealth mode, fingerprints, captcha solving and proxies with a
clear error (docs/guides/browser.md).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

import attrs

from . import _protocol as p
from ._validate import check_text, fail
from .context_sync import (
    BWList,
    ContextSync,
    DeletePolicy,
    ExtractPolicy,
    RecyclePolicy,
    SyncPolicy,
    UploadPolicy,
    WhiteList,
)

__all__ = [
    "BrowserContext",
    "BrowserFingerprint",
    "BrowserFingerprintContext",
    "BrowserOption",
    "BrowserProxy",
    "BrowserScreen",
    "BrowserViewport",
    "ExtensionOption",
]

ProxyType = Literal["custom", "built-in", "managed"]
ProxyStrategy = Literal["restricted", "polling", "sticky", "rotating", "matched"]
Device = Literal["desktop", "mobile"]
OperatingSystem = Literal["windows", "macos", "linux", "android", "ios"]
BrowserType = Literal["chrome", "chromium"]

DEVICES = ("desktop", "mobile")
OPERATING_SYSTEMS = ("windows", "macos", "linux", "android", "ios")
BROWSER_TYPES = ("chrome", "chromium")
T = TypeVar("T")


def _size_field(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise fail(f"{name} must be a positive integer, got {value!r}")
    return value


def _width(value: object) -> int:
    return _size_field("width", value)


def _height(value: object) -> int:
    return _size_field("height", value)


@attrs.frozen(slots=True)
class BrowserViewport:
    """The page area's size in CSS pixels (the official default is 1920 x 1080)."""

    width: int = attrs.field(default=1920, converter=_width)
    height: int = attrs.field(default=1080, converter=_height)

    def to_map(self) -> dict[str, int]:
        """The wire object (§15.2)."""
        return {"width": self.width, "height": self.height}


@attrs.frozen(slots=True)
class BrowserScreen:
    """The screen's size the page sees (`screen.width`, `screen.height`)."""

    width: int = attrs.field(default=1920, converter=_width)
    height: int = attrs.field(default=1080, converter=_height)

    def to_map(self) -> dict[str, int]:
        """The wire object (§15.2)."""
        return {"width": self.width, "height": self.height}


def _choices(name: str, allowed: Sequence[str], message: str, value: object) -> Any:
    if value is None:
        return None
    if not isinstance(value, list):
        raise fail(f"{name} must be a list")
    for item in value:
        if item not in allowed:
            raise fail(message)
    return list(value)


def _devices(value: object) -> list[Device] | None:
    return _choices("devices", DEVICES, "device must be desktop or mobile", value)  # type: ignore[no-any-return]


def _operating_systems(value: object) -> list[OperatingSystem] | None:
    message = "operating_system must be windows, macos, linux, android or ios"
    return _choices("operating_systems", OPERATING_SYSTEMS, message, value)  # type: ignore[no-any-return]


def _locales(value: object) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail("locales must be a list")
    return list(value)


@attrs.frozen(slots=True)
class BrowserFingerprint:
    """Which fingerprints the cloud may generate: devices, operating systems, locales."""

    devices: list[Device] | None = attrs.field(default=None, converter=_devices)
    operating_systems: list[OperatingSystem] | None = attrs.field(
        default=None, converter=_operating_systems
    )
    locales: list[str] | None = attrs.field(default=None, converter=_locales)

    def to_map(self) -> dict[str, list[str]]:
        """The wire object (§15.2): only the fields that are set."""
        out: dict[str, list[str]] = {}
        if self.devices is not None:
            out["devices"] = list(self.devices)
        if self.operating_systems is not None:
            out["operatingSystems"] = list(self.operating_systems)
        if self.locales is not None:
            out["locales"] = list(self.locales)
        return out


@attrs.frozen(slots=True)
class BrowserProxy:
    """A proxy for the browser (the cloud's): `custom` (your `server`), `built-in` (the
    cloud's, `strategy` restricted or polling, `pollsize`) or `managed` (`strategy` polling,
    sticky, rotating or matched, for `user_id`, optionally by isp and place)."""

    proxy_type: ProxyType
    server: str | None = None
    username: str | None = None
    password: str | None = None
    strategy: ProxyStrategy | None = None
    pollsize: int = 10
    user_id: str | None = None
    isp: str | None = None
    country: str | None = None
    province: str | None = None
    city: str | None = None

    def __attrs_post_init__(self) -> None:
        kind, strategy = self.proxy_type, self.strategy
        if kind not in ("custom", "built-in", "managed"):
            raise fail("proxy_type must be custom, built-in, or managed")
        if kind == "custom" and not self.server:
            raise fail("server is required for custom proxy type")
        if kind == "built-in":
            if not strategy:
                raise fail("strategy is required for built-in proxy type")
            if strategy not in ("restricted", "polling"):
                raise fail("strategy must be restricted or polling for built-in proxy type")
            if strategy == "polling" and self.pollsize <= 0:
                raise fail("pollsize must be greater than 0 for polling strategy")
        if kind == "managed":
            if not strategy:
                raise fail("strategy is required for managed proxy type")
            if strategy not in ("polling", "sticky", "rotating", "matched"):
                raise fail(
                    "strategy must be polling, sticky, rotating, or matched for managed proxy type"
                )
            if not self.user_id:
                raise fail("user_id is required for managed proxy type")

    @property
    def type(self) -> str:
        """The proxy type (the official attribute's name)."""
        return self.proxy_type

    def to_map(self) -> dict[str, object]:
        """The wire object (§15.2)."""
        out: dict[str, object] = {"type": self.proxy_type}
        optional: tuple[tuple[str, str | None], ...]
        if self.proxy_type == "custom":
            out["server"] = self.server
            optional = (("username", self.username), ("password", self.password))
        elif self.proxy_type == "built-in":
            out["strategy"] = self.strategy
            if self.strategy == "polling":
                out["pollsize"] = self.pollsize
            optional = ()
        else:
            out["strategy"] = self.strategy
            optional = (
                ("userId", self.user_id),
                ("isp", self.isp),
                ("country", self.country),
                ("province", self.province),
                ("city", self.city),
            )
        out.update((key, value) for key, value in optional if value)
        return out


def _proxies(value: object) -> list[BrowserProxy] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise fail("proxies must be a list")
    if len(value) > 1:
        raise fail("proxies list length must be limited to 1")
    for proxy in value:
        if not isinstance(proxy, BrowserProxy):
            raise fail(f"proxies must hold BrowserProxy objects, got {proxy!r}")
    return list(value)


def _extension_path(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise fail("extension_path must be a string")
    if not value.strip():
        raise fail("extension_path cannot be empty")
    return value


def _cmd_args(value: object) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise fail("cmd_args must be a list")
    if not all(isinstance(arg, str) for arg in value):
        raise fail("cmd_args must be a list of strings")
    return list(value)


def _browser_type(value: object) -> BrowserType | None:
    if value is not None and value not in BROWSER_TYPES:
        raise fail("browser_type must be 'chrome' or 'chromium'")
    return value  # type: ignore[return-value]


def _optional_of(kind: type[T], name: str, value: object) -> T | None:
    if value is not None and not isinstance(value, kind):
        raise fail(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _user_agent(value: object) -> str | None:
    return _optional_of(str, "user_agent", value)


def _navigate_url(value: object) -> str | None:
    return _optional_of(str, "default_navigate_url", value)


def _viewport(value: object) -> BrowserViewport | None:
    return _optional_of(BrowserViewport, "viewport", value)


def _screen(value: object) -> BrowserScreen | None:
    return _optional_of(BrowserScreen, "screen", value)


def _fingerprint(value: object) -> BrowserFingerprint | None:
    return _optional_of(BrowserFingerprint, "fingerprint", value)


def _fingerprint_format(value: object) -> Mapping[str, object] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise fail("fingerprint_format must be the fingerprint's JSON object (a dict)")
    return dict(value)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise fail(f"{name} must be True or False, got {value!r}")
    return value


def _use_stealth(value: object) -> bool:
    return _flag("use_stealth", value)


def _fingerprint_persistent(value: object) -> bool:
    return _flag("fingerprint_persistent", value)


def _solve_captchas(value: object) -> bool:
    return _flag("solve_captchas", value)


@attrs.frozen(slots=True)
class BrowserOption:
    """How `session.browser.initialize()` starts the browser (the official names).

    On AGB Local: `viewport` sets the window, `screen` the screen the page sees,
    `user_agent` the User-Agent, `cmd_args` are added to Chromium's command line,
    `default_navigate_url` is the first page and `browser_type="chrome"` is served by
    Chromium; `extension_path` is accepted (no extension is loaded). `use_stealth`,
    `fingerprint`, `fingerprint_format`, `fingerprint_persistent`, `solve_captchas` and
    `proxies` are the cloud's: AGB Local refuses them and `initialize` returns False.
    """

    use_stealth: bool = attrs.field(default=False, converter=_use_stealth)
    user_agent: str | None = attrs.field(default=None, converter=_user_agent)
    viewport: BrowserViewport | None = attrs.field(default=None, converter=_viewport)
    screen: BrowserScreen | None = attrs.field(default=None, converter=_screen)
    fingerprint: BrowserFingerprint | None = attrs.field(default=None, converter=_fingerprint)
    fingerprint_format: Mapping[str, object] | None = attrs.field(
        default=None, converter=_fingerprint_format
    )
    fingerprint_persistent: bool = attrs.field(default=False, converter=_fingerprint_persistent)
    solve_captchas: bool = attrs.field(default=False, converter=_solve_captchas)
    proxies: list[BrowserProxy] | None = attrs.field(default=None, converter=_proxies)
    extension_path: str | None = attrs.field(
        default=p.BROWSER_EXTENSIONS_PATH, converter=_extension_path
    )
    cmd_args: list[str] | None = attrs.field(default=None, converter=_cmd_args)
    default_navigate_url: str | None = attrs.field(default=None, converter=_navigate_url)
    browser_type: BrowserType | None = attrs.field(default=None, converter=_browser_type)

    @property
    def fingerprint_persist_path(self) -> str | None:
        """Where the cloud keeps the fingerprint when `fingerprint_persistent` is set."""
        if not self.fingerprint_persistent:
            return None
        return f"{p.BROWSER_FINGERPRINT_PATH}/fingerprint.json"

    def to_map(self) -> dict[str, object]:
        """The `browserOption` object, keys in the official order (§15.2)."""
        out: dict[str, object] = {"useStealth": self.use_stealth}
        if self.user_agent is not None:
            out["userAgent"] = self.user_agent
        if self.viewport is not None:
            out["viewport"] = self.viewport.to_map()
        if self.screen is not None:
            out["screen"] = self.screen.to_map()
        if self.fingerprint is not None:
            out["fingerprint"] = self.fingerprint.to_map()
        if self.fingerprint_format is not None:
            text = json.dumps(dict(self.fingerprint_format), indent=2, ensure_ascii=False)
            out["fingerprintRawData"] = base64.b64encode(text.encode("utf-8")).decode("ascii")
        if self.fingerprint_persist_path is not None:
            out["fingerprintPersistPath"] = self.fingerprint_persist_path
        out["solveCaptchas"] = self.solve_captchas
        if self.proxies is not None:
            out["proxies"] = [proxy.to_map() for proxy in self.proxies]
        if self.extension_path is not None:
            out["extensionPath"] = self.extension_path
        if self.cmd_args is not None:
            out["cmdArgs"] = list(self.cmd_args)
        if self.default_navigate_url is not None:
            out["defaultNavigateUrl"] = self.default_navigate_url
        if self.browser_type is not None:
            out["browserType"] = self.browser_type
        return out


def _not_blank(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{name} cannot be empty")
    return value


def _fingerprint_context_id(value: object) -> str:
    return _not_blank("fingerprint_context_id", value)


def _extension_context_id(value: object) -> str:
    return _not_blank("context_id", value)


def _browser_context_id(value: object) -> str:
    return check_text("context_id", value)


def _extension_option(value: object) -> ExtensionOption | None:
    return _optional_of(ExtensionOption, "extension_option", value)


def _fingerprint_context(value: object) -> BrowserFingerprintContext | None:
    return _optional_of(BrowserFingerprintContext, "fingerprint_context", value)


@attrs.frozen(slots=True)
class BrowserFingerprintContext:
    """The context that keeps a browser's fingerprint (for `BrowserContext`)."""

    fingerprint_context_id: str = attrs.field(converter=_fingerprint_context_id)


def _extension_ids(value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise fail("extension_ids cannot be empty")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise fail(f"extension_ids must be non-empty strings, got {item!r}")
    return list(value)


@attrs.frozen(slots=True)
class ExtensionOption:
    """Extensions (ids from the official `ExtensionsService`) kept in the context
    `context_id`, for `BrowserContext`."""

    context_id: str = attrs.field(converter=_extension_context_id)
    extension_ids: list[str] = attrs.field(converter=_extension_ids)


def _auto_upload(value: object) -> bool:
    if not isinstance(value, bool):
        raise fail(f"auto_upload must be True or False, got {value!r}")
    return value


@attrs.frozen(slots=True)
class BrowserContext:
    """A context that keeps the browser's profile (cookies and Local State) across sessions:
    `CreateSessionParams(browser_context=BrowserContext(context_id))` mounts it at
    `/tmp/agb_browser_data`, the profile `initialize()` starts the browser with, and the
    profile is uploaded when the session is released (`auto_upload`), after the browser has
    been stopped. `extension_option` and `fingerprint_context` mount those contexts too."""

    context_id: str = attrs.field(converter=_browser_context_id)
    auto_upload: bool = attrs.field(default=True, converter=_auto_upload)
    extension_option: ExtensionOption | None = attrs.field(
        default=None, converter=_extension_option
    )
    fingerprint_context: BrowserFingerprintContext | None = attrs.field(
        default=None, converter=_fingerprint_context
    )

    @property
    def extension_context_syncs(self) -> list[ContextSync] | None:
        """The extension context's mount (§13.6 item 1); None without extensions."""
        option = self.extension_option
        if option is None:
            return None
        policy = SyncPolicy(
            upload_policy=UploadPolicy(auto_upload=False),
            delete_policy=DeletePolicy(sync_local_file=False),
            extract_policy=ExtractPolicy(extract=True, delete_src_file=True),
            bw_list=BWList(white_lists=[WhiteList(path=ext) for ext in option.extension_ids]),
        )
        return [ContextSync(option.context_id, p.BROWSER_EXTENSIONS_PATH, policy)]

    @property
    def fingerprint_context_sync(self) -> ContextSync | None:
        """The fingerprint context's mount (§13.6 item 2); None without one."""
        if self.fingerprint_context is None:
            return None
        policy = SyncPolicy(
            upload_policy=UploadPolicy(auto_upload=False),
            extract_policy=ExtractPolicy(extract=True, delete_src_file=True),
            bw_list=BWList(white_lists=[]),
        )
        context_id = self.fingerprint_context.fingerprint_context_id
        return ContextSync(context_id, p.BROWSER_FINGERPRINT_PATH, policy)

    @property
    def browser_data_sync(self) -> ContextSync:
        """The profile's mount (§13.6 item 3): Local State and the cookies."""
        policy = SyncPolicy(
            upload_policy=UploadPolicy(auto_upload=self.auto_upload),
            bw_list=BWList(white_lists=[WhiteList(path=path) for path in p.BROWSER_DATA_WHITELIST]),
            recycle_policy=RecyclePolicy(),
        )
        return ContextSync(self.context_id, p.BROWSER_DATA_PATH, policy)

    def context_syncs(self) -> list[ContextSync]:
        """Every mount this browser context adds, in the official order (§13.6)."""
        syncs = list(self.extension_context_syncs or [])
        if self.fingerprint_context_sync is not None:
            syncs.append(self.fingerprint_context_sync)
        return [*syncs, self.browser_data_sync]
