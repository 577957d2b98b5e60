"""`POST /browser/init`'s `browserOption` (agb-wire.md §15.2) read into a `BrowserLaunch`:
each option AGB Local honours becomes Chromium flags; each it cannot honour is refused with
a clear 400, never ignored in silence (docs/guides/browser.md has the table).

Honoured: `viewport` (the window size), `screen` (the screen size), `userAgent`, `cmdArgs`
(appended, except the flags that would take the browser's profile or DevTools port away
from AGB Local), `defaultNavigateUrl`, `browserType` (`chrome` is served by Chromium, the
browser AGB Local has) and `extensionPath` (accepted: AGB Local loads no extensions).
Refused when set: `useStealth`, `fingerprint`, `fingerprintRawData`,
`fingerprintPersistPath`, `solveCaptchas` and `proxies` (sessions have no network).
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import _protocol as p
from .envelope import ApiError, bad_request, not_on_agb_local
from .params import optional, optional_int, string_list
from .sandbox.browser import BrowserLaunch

# Flags the bridge and the profile need to stay as AGB Local sets them.
RESERVED_FLAGS = (
    "--user-data-dir",
    "--remote-debugging-port",
    "--remote-debugging-address",
    "--remote-debugging-pipe",
    "--headless",
)
WHAT = "browserOption"
MAX_SIDE = 10_000  # pixels: larger than any screen, small enough for the sandbox's memory


def launch_from_option(option: Mapping[str, object], profile: str) -> BrowserLaunch:
    """The launch that `option` (the decoded `browserOption`) asks for, in `profile`."""
    _refuse_unsupported(option)
    flags: list[str] = []
    viewport = _size(option, "viewport")
    if viewport is not None:
        flags.append(f"--window-size={viewport[0]},{viewport[1]}")
    screen = _size(option, "screen")
    if screen is not None:
        flags.append(f"--screen-info={{{screen[0]}x{screen[1]}}}")
    user_agent = optional(option, "userAgent", str, WHAT)
    if user_agent:
        flags.append(f"--user-agent={user_agent}")
    browser_type = optional(option, "browserType", str, WHAT)
    if browser_type is not None and browser_type not in ("chrome", "chromium"):
        raise bad_request(f"{WHAT}.browserType must be 'chrome' or 'chromium'")
    optional(option, "extensionPath", str, WHAT)  # accepted; no extension is loaded
    flags += _cmd_args(option)
    url = optional(option, "defaultNavigateUrl", str, WHAT) or "about:blank"
    if url.startswith("-"):  # Chromium would read it as a flag
        raise bad_request(f"{WHAT}.defaultNavigateUrl is not a URL: {url!r}")
    return BrowserLaunch(profile=profile, flags=tuple(flags), url=url)


def checked_profile(raw: str | None) -> str:
    """`persistentPath`: an absolute path, the default when missing."""
    path = (raw or "").strip() or p.BROWSER_DATA_PATH
    if not path.startswith("/"):
        raise bad_request("persistentPath must be an absolute path")
    return path


def _refuse_unsupported(option: Mapping[str, object]) -> None:
    if option.get("useStealth") not in (None, False):
        raise not_on_agb_local("useStealth (stealth mode)")
    if option.get("solveCaptchas") not in (None, False):
        raise not_on_agb_local("solveCaptchas (captcha solving)")
    for key in ("fingerprint", "fingerprintRawData", "fingerprintPersistPath"):
        if option.get(key) not in (None, {}):
            raise not_on_agb_local(f"{key} (browser fingerprints)")
    if option.get("proxies") not in (None, []):
        raise not_on_agb_local("proxies (sessions have no network)")


def _size(option: Mapping[str, object], key: str) -> tuple[int, int] | None:
    raw = optional(option, key, dict, WHAT)
    if raw is None:
        return None
    width = optional_int(raw, "width", f"{WHAT}.{key}")
    height = optional_int(raw, "height", f"{WHAT}.{key}")
    if width is None or height is None:
        raise bad_request(f"{WHAT}.{key} needs a width and a height")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise bad_request(f"{WHAT}.{key}: width and height must be between 1 and {MAX_SIDE}")
    return width, height


def _cmd_args(option: Mapping[str, object]) -> list[str]:
    args = string_list(option, "cmdArgs", WHAT) or []
    for arg in args:
        if not arg.startswith("--"):
            raise bad_request(f"{WHAT}.cmdArgs: {arg!r} is not a command-line flag (--name)")
        name = arg.split("=", 1)[0]
        if name in RESERVED_FLAGS:
            raise ApiError(
                400,
                "InvalidParameter",
                f"{WHAT}.cmdArgs: {name} is set by AGB Local (the bridge and the profile need it)",
            )
    return args
