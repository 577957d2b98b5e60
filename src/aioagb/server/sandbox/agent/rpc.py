"""The agent's request loop: a thread per request, the OPS table from operation names to their
handlers, replies (and a streaming call's events) as JSON lines on stdout, and the
notifications that steer running calls (see the package's docstring for the format).

A request with `"stream": true` (run_code) answers with events before its reply, each
`{"id", "event": {...}}`, spending the credits the request and later `credit`
notifications grant (`control`). Notifications carry no id and get no reply:
`{"op": "credit", "target": ID, "n": N}` and `{"op": "cancel", "target": ID}`; they are
handled on the loop's own thread, so they reach a call however busy the others are.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable

from . import browser, files
from .config import CONFIG
from .control import CONTROLS, RunControl
from .errors import FileError, Unavailable
from .jsonlines import JSONDict, json_line, write_all
from .kernel_host import KERNEL
from .languages import run_language
from .metrics import op_metrics
from .outputs import CellOutput
from .processes import CHILDREN, CHILDREN_LOCK, kill_group, op_shell


def op_run_code(req: JSONDict, control: RunControl) -> JSONDict:
    """A cell: python on the session's kernel; javascript, java and r as processes."""
    output = CellOutput(CONFIG.max_output, control)
    if req["language"] == "python":
        return KERNEL.execute(req["code"], float(req["timeout"]), output, control)
    return run_language(req, output, control)


# Operations that the server can steer while they run (cancel, credits).
STEERED: dict[str, Callable[[JSONDict, RunControl], object]] = {
    "shell": op_shell,
    "run_code": op_run_code,
}

OPS: dict[str, Callable[[JSONDict], object]] = {
    "ping": lambda req: {"pid": os.getpid(), "uid": os.getuid()},
    "warm": lambda req: {"started": KERNEL.warm()},
    "metrics": op_metrics,
    "read_file": files.op_read_file,
    "write_file": files.op_write_file,
    "get_file_info": files.op_get_file_info,
    "list_directory": files.op_list_directory,
    "create_directory": files.op_create_directory,
    "move_file": files.op_move_file,
    "delete_file": files.op_delete_file,
    "edit_file": files.op_edit_file,
    "search_files": files.op_search_files,
    "get_file_change": files.op_get_file_change,
    "browser_start": browser.op_browser_start,
    "browser_stop": browser.op_browser_stop,
    "browser_status": browser.op_browser_status,
}

OUT_LOCK = threading.Lock()


def reply(msg: JSONDict) -> None:
    """Writes one line to stdout (whole, however many threads reply at once)."""
    data = json_line(msg)
    with OUT_LOCK:
        write_all(1, data)


def _control_for(req: JSONDict) -> RunControl:
    """A steerable request's control, registered under its id before its thread starts (so
    that no `cancel` can come too early to find it)."""
    rid = req.get("id")
    send = None
    if req.get("stream"):

        def send(event: JSONDict) -> None:
            reply({"id": rid, "event": event})

    control = RunControl(send, int(req.get("credits") or 0))
    CONTROLS.add(rid, control)
    return control


def serve_one(req: JSONDict, control: RunControl | None = None) -> None:
    """Runs one request and replies, with a result or with the kind of its failure."""
    rid = req.get("id")
    name = str(req.get("op"))
    try:
        if control is not None:
            result = STEERED[name](req, control)
        elif name in OPS:
            result = OPS[name](req)
        else:
            raise Unavailable(f"unknown operation {req.get('op')!r}")
        reply({"id": rid, "ok": True, "result": result})
    except FileError as exc:
        reply({"id": rid, "ok": False, "kind": "file", "error": str(exc)})
    except Unavailable as exc:
        reply({"id": rid, "ok": False, "kind": "unavailable", "error": str(exc)})
    except Exception as exc:
        import traceback  # only here: it costs ~2 ms of every agent's start

        traceback.print_exc()
        reply({"id": rid, "ok": False, "kind": "internal", "error": f"{type(exc).__name__}: {exc}"})
    finally:
        if control is not None:
            CONTROLS.remove(rid)
            control.close()


def notify(req: JSONDict) -> None:
    """A `credit` or `cancel` for a running call; one for a call that has ended is moot."""
    control = CONTROLS.get(req.get("target"))
    if control is None:
        return
    if req["op"] == "credit":
        control.grant(int(req.get("n") or 0))
    else:
        control.cancel()


NOTIFICATIONS = frozenset({"credit", "cancel"})


def shutdown() -> None:
    """Kills the kernel and every process group the agent started, then exits."""
    KERNEL.stop()
    with CHILDREN_LOCK:
        groups = list(CHILDREN)
    for pid in groups:
        kill_group(pid)
    os._exit(0)


def agent_main() -> None:
    """Says the agent is ready (it is configured and confined: `__main__`), then serves
    stdin's requests until it closes."""
    signal.signal(signal.SIGTERM, lambda *_: shutdown())
    reply({"id": 0, "ok": True, "result": {"ready": True, "pid": os.getpid()}})
    stdin = os.fdopen(0, "rb", buffering=0)
    buf = b""
    while True:
        chunk = stdin.read(65536)
        if not chunk:
            shutdown()
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                req = json.loads(line)
                if not isinstance(req, dict):
                    raise ValueError
            except ValueError:
                reply({"id": None, "ok": False, "kind": "internal", "error": "bad request"})
                continue
            if req.get("op") in NOTIFICATIONS:
                notify(req)
                continue
            control = _control_for(req) if req.get("op") in STEERED else None
            worker = threading.Thread(target=serve_one, args=(req, control), daemon=True)
            worker.start()
