"""The session's browser: Chromium started by the agent, so it runs as the session's uid, in
the sandbox's namespaces and under its limits like any other process of the session.

Chromium picks a free DevTools port itself (`--remote-debugging-port=0`) and writes it, with
the browser WebSocket's path, to `DevToolsActivePort` in its profile: the start waits for
that file. One browser per session; starting it again restarts it. Stopping asks Chromium to
shut down (SIGTERM: it flushes its profile, cookies included, to disk) and kills whatever is
left of its process group after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

from .config import CONFIG, TMP, WORKSPACE
from .errors import FileError, Unavailable
from .files import resolve
from .jsonlines import JSONDict
from .processes import CHILDREN, CHILDREN_LOCK, kill_group, wait_group_gone

# Not `typing.TYPE_CHECKING`: importing typing costs every agent and kernel ~2 ms at start
# (mypy reads any `TYPE_CHECKING` as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

PORT_FILE = "DevToolsActivePort"
# Files a Chromium that did not shut down cleanly leaves in its profile; a new one refuses
# the profile while they point at a process ("in use by another computer").
STALE_LOCKS = ("SingletonLock", "SingletonSocket", "SingletonCookie", PORT_FILE)
LOG_NAME = ".agb-browser.log"  # in the session's /tmp: why a start failed
POLL_S = 0.02
GROUP_GONE_S = 5.0


class _Browser:
    """The running browser, if any (one per session)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.path = ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


BROWSER = _Browser()


def op_browser_start(req: JSONDict) -> JSONDict:
    """Starts Chromium (`binary` with `flags`, then the profile, the DevTools port and
    `url`), stopping a running one first; waits for its DevTools port."""
    profile = resolve(str(req["profile"]))
    with BROWSER.lock:
        _stop_locked(float(req.get("grace", 5.0)))
        try:
            os.makedirs(profile, exist_ok=True)
        except OSError as exc:
            raise FileError(f"cannot make the browser profile {req['profile']}: {exc}") from None
        for name in STALE_LOCKS:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(os.path.join(profile, name))
        argv = [
            str(req["binary"]),
            *[str(flag) for flag in req.get("flags") or []],
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            str(req.get("url") or "about:blank"),
        ]
        proc = _spawn(argv)
        BROWSER.proc = proc
        with CHILDREN_LOCK:
            CHILDREN.add(proc.pid)
        port, path = _wait_for_port(proc, profile, float(req.get("timeout", 30.0)))
        BROWSER.port, BROWSER.path = port, path
        return {"pid": proc.pid, "port": port, "path": path}


def _spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    import subprocess

    log_path = os.path.join(CONFIG.real(TMP), LOG_NAME)
    env = dict(CONFIG.env)
    with open(log_path, "wb") as log:
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=CONFIG.real(WORKSPACE),
                env=env,
                start_new_session=True,  # its own group: stopping it ends all it started
            )
        except OSError as exc:
            raise Unavailable(f"cannot start the browser {argv[0]}: {exc.strerror}") from None


def _wait_for_port(proc: subprocess.Popen[bytes], profile: str, timeout: float) -> tuple[int, str]:
    """The DevTools port and browser path Chromium writes once it listens."""
    port_file = os.path.join(profile, PORT_FILE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            _forget(proc)
            raise Unavailable(f"the browser exited at start (code {code}): {_log_tail()}")
        try:
            with open(port_file, encoding="utf-8") as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            lines = []
        if len(lines) >= 2 and lines[0].strip().isdigit() and lines[1].startswith("/"):
            return int(lines[0]), lines[1].strip()
        time.sleep(POLL_S)
    _stop_locked(0.0)
    raise Unavailable(f"the browser did not open its DevTools port within {timeout:g} s")


def _log_tail(n: int = 1500) -> str:
    try:
        with open(os.path.join(CONFIG.real(TMP), LOG_NAME), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - n))
            return f.read().decode("utf-8", "replace").strip() or "(no output)"
    except OSError:
        return "(no output)"


def _forget(proc: subprocess.Popen[bytes]) -> None:
    with CHILDREN_LOCK:
        CHILDREN.discard(proc.pid)
    if BROWSER.proc is proc:
        BROWSER.proc = None
        BROWSER.port, BROWSER.path = 0, ""


def _stop_locked(grace: float) -> bool:
    """Stops the browser (its lock held): SIGTERM, up to `grace` seconds for a clean exit
    (the profile is written), then SIGKILL for its whole group. Whether one was running."""
    proc = BROWSER.proc
    if proc is None:
        return False
    was_running = proc.poll() is None
    if was_running and grace > 0:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(Exception):
            proc.wait(timeout=grace)
    kill_group(proc.pid)
    with contextlib.suppress(Exception):
        proc.wait(timeout=GROUP_GONE_S)
    wait_group_gone(proc.pid, GROUP_GONE_S)
    _forget(proc)
    return was_running


def op_browser_stop(req: JSONDict) -> JSONDict:
    """Stops the browser and every process it started; `stopped` says whether one ran."""
    with BROWSER.lock:
        return {"stopped": _stop_locked(float(req.get("grace", 5.0)))}


def op_browser_status(req: JSONDict) -> JSONDict:
    """Whether the browser runs, and its DevTools port and browser path when it does."""
    with BROWSER.lock:
        if not BROWSER.running():
            if BROWSER.proc is not None:
                _stop_locked(0.0)  # it died: reap it and whatever it left
            return {"running": False}
        return {"running": True, "port": BROWSER.port, "path": BROWSER.path}
