"""What a session's browser is made of on the host side: which Chromium runs, the flags every
AGB Local browser gets, and what a start asks of the sandbox's agent (`agent/browser.py`
starts it inside the sandbox) and gets back.

Why each fixed flag (docs/sandbox.md, "Browser sessions"):

* `--no-sandbox`: Chromium's own sandbox needs user namespaces or a setuid helper; the
  session's bubblewrap sandbox (its own pid, net, mount, ipc and uts namespaces, its own uid,
  no capabilities) is the isolation, as it is for every other process of the session.
* `--headless --disable-gpu`: no display, no GPU; pages are rendered in software.
* `--no-first-run --no-default-browser-check --disable-background-networking
  --disable-component-update --disable-sync --disable-breakpad`: nothing phones home (the
  sandbox has no network anyway, so these only save time and log noise).
* `--password-store=basic`: cookies are encrypted with Chromium's fixed "basic" key instead
  of a desktop keyring the sandbox does not have, so a profile saved in a context opens in
  the next session.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

import attrs

# Where Debian's package puts the real binary (/usr/bin/chromium is a launcher script that
# reads /etc/chromium.d, which the sandbox does not mount).
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-breakpad",
    "--password-store=basic",
    "--mute-audio",
)
START_TIMEOUT_S = 30.0  # for Chromium to open its DevTools port
STOP_GRACE_S = 5.0  # for Chromium to write its profile and exit after SIGTERM


def find_chromium() -> str | None:
    """The Chromium binary sandboxes can run (it must live under /usr, which they mount)."""
    for candidate in CHROMIUM_CANDIDATES:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK) and os.path.realpath(path).startswith("/usr/"):
            return path
    return None


@attrs.frozen
class BrowserLaunch:
    """One start of a session's browser: its profile directory (a sandbox path), the flags
    from the session's `BrowserOption` (after BASE_FLAGS) and the first page."""

    profile: str
    flags: Sequence[str] = ()
    url: str = "about:blank"

    def agent_args(self, binary: str) -> dict[str, object]:
        """The agent's `browser_start` arguments."""
        return {
            "binary": binary,
            "flags": [*BASE_FLAGS, *self.flags],
            "profile": self.profile,
            "url": self.url,
            "timeout": START_TIMEOUT_S,
            "grace": STOP_GRACE_S,
        }


@attrs.frozen
class BrowserEndpoint:
    """A running browser's DevTools endpoint on the sandbox's own loopback."""

    port: int
    path: str  # the browser WebSocket's path, "/devtools/browser/<id>"
