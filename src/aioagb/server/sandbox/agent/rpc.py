"""The agent's request loop: a thread per request, the OPS table from operation names to their
handlers, and replies as JSON lines on stdout (see the package's docstring for the format)."""

from __future__ import annotations

import json
import os
import signal
import threading
import traceback
from collections.abc import Callable

from . import files
from .config import CONFIG, confine_self
from .errors import FileError, Unavailable
from .jsonlines import JSONDict, json_line, write_all
from .kernel_host import KERNEL
from .processes import CHILDREN, CHILDREN_LOCK, kill_group, op_javascript, op_shell


def op_run_code(req: JSONDict) -> JSONDict:
    """A cell: python on the session's kernel, javascript on node."""
    language = req["language"]
    if language == "python":
        return KERNEL.execute(req["code"], float(req["timeout"]))
    if language == "javascript":
        return op_javascript(req)
    raise Unavailable(f"{language} is not available on this server")


OPS: dict[str, Callable[[JSONDict], object]] = {
    "ping": lambda req: {"pid": os.getpid(), "uid": os.getuid()},
    "shell": op_shell,
    "run_code": op_run_code,
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
}

OUT_LOCK = threading.Lock()


def reply(msg: JSONDict) -> None:
    """Writes one reply line to stdout (whole, however many threads reply at once)."""
    data = json_line(msg)
    with OUT_LOCK:
        write_all(1, data)


def serve_one(req: JSONDict) -> None:
    """Runs one request and replies, with a result or with the kind of its failure."""
    rid = req.get("id")
    try:
        op = OPS.get(str(req.get("op")))
        if op is None:
            raise Unavailable(f"unknown operation {req.get('op')!r}")
        reply({"id": rid, "ok": True, "result": op(req)})
    except FileError as exc:
        reply({"id": rid, "ok": False, "kind": "file", "error": str(exc)})
    except Unavailable as exc:
        reply({"id": rid, "ok": False, "kind": "unavailable", "error": str(exc)})
    except Exception as exc:
        traceback.print_exc()
        reply({"id": rid, "ok": False, "kind": "internal", "error": f"{type(exc).__name__}: {exc}"})


def shutdown() -> None:
    """Kills the kernel and every process group the agent started, then exits."""
    KERNEL.stop()
    with CHILDREN_LOCK:
        groups = list(CHILDREN)
    for pid in groups:
        kill_group(pid)
    os._exit(0)


def agent_main(config: JSONDict) -> None:
    """Confines the agent, says it is ready, then serves stdin's requests until it closes."""
    CONFIG.load(config)
    confine_self(CONFIG)
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
            except ValueError:
                reply({"id": None, "ok": False, "kind": "internal", "error": "bad request"})
                continue
            worker = threading.Thread(target=serve_one, args=(req,), daemon=True)
            worker.start()
