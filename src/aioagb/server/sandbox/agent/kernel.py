"""The python kernel process: runs cells in one persistent namespace, notebook style, and
answers each with its rich results (mime bundles), its error and its traceback.

It imports only this module (and `jsonlines`) of the package: it starts with every session's
first cell. The agent (`kernel_host`) reads its stdout and stderr; cells come in and replies go
out as JSON lines on two pipes of their own.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import io
import json
import linecache
import os
import sys
import traceback
from typing import TYPE_CHECKING

from .jsonlines import JSONDict, json_line, write_all

if TYPE_CHECKING:
    from typing import Any

MAX_RESULTS_BYTES = 32 * 1024 * 1024  # mime bundles of one cell, all together

_RICH = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
)


def mime_bundle(obj: object, main: bool) -> JSONDict:
    """`obj`'s mime bundle: its repr, plus every `_repr_*_` it offers."""
    bundle: JSONDict = {"text/plain": repr(obj)}
    for mime, method in _RICH:
        fn = getattr(obj, method, None)
        if not callable(fn):
            continue
        try:
            value = fn()
        except Exception:
            continue
        if value is None:
            continue
        if isinstance(value, tuple):  # (data, metadata)
            value = value[0]
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        bundle[mime] = value
    bundle["isMainResult"] = main
    return bundle


class KernelState:
    """The session's python namespace and the rich results of the cell running now."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.results: list[JSONDict] = []
        self.namespace["display"] = self.display

    def display(self, *objs: object) -> None:
        """`display(...)` in a cell: one bundle per object, not the main result."""
        for obj in objs:
            self.results.append(mime_bundle(obj, False))

    def figures(self) -> None:
        """Every open matplotlib figure becomes an image/png bundle, then is closed."""
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        try:
            for num in plt.get_fignums():
                fig = plt.figure(num)
                buf = io.BytesIO()
                fig.savefig(buf, format="png")
                self.results.append(
                    {
                        "text/plain": repr(fig),
                        "image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                        "isMainResult": False,
                    }
                )
            plt.close("all")
        except Exception as exc:
            print(f"could not render matplotlib figures: {exc!r}", file=sys.stderr)

    def run(self, code: str, count: int) -> JSONDict:
        """Runs one cell (the value of a final expression is its main result); returns its reply."""
        import ast

        self.results = []
        error = None
        tb = None
        try:
            name = f"<cell {count}>"
            linecache.cache[name] = (len(code), None, code.splitlines(keepends=True), name)
            tree = ast.parse(code, filename=name, mode="exec")
            last = None
            tail = tree.body[-1] if tree.body else None
            if isinstance(tail, ast.Expr):
                tree.body.pop()
                last = ast.Expression(tail.value)
            exec(compile(tree, f"<cell {count}>", "exec"), self.namespace)
            if last is not None:
                value = eval(compile(last, f"<cell {count}>", "eval"), self.namespace)
                if value is not None:
                    self.namespace["_"] = value
                    self.results.append(mime_bundle(value, True))
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            tb = "".join(traceback.format_exception(type(exc), exc, _user_frames(exc)))
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
        self.figures()
        results = self.results
        if len(json.dumps(results)) > MAX_RESULTS_BYTES:
            results = [{"text/plain": "[results too large, dropped]", "isMainResult": False}]
        return {"results": results, "error": error, "traceback": tb, "execution_count": count}


def _user_frames(exc: BaseException) -> Any:
    """The traceback without the kernel's own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


def kernel_main(req_fd: int, rep_fd: int, cwd: str) -> None:
    """Serves cells from `req_fd` until it closes, replying on `rep_fd`, with `cwd` (the
    session's workspace) as the working directory and first on `sys.path`."""
    os.chdir(cwd)
    sys.path.insert(0, "")
    os.environ.setdefault("MPLBACKEND", "Agg")
    state = KernelState()
    requests = os.fdopen(req_fd, "rb", buffering=0)
    buf = b""
    while True:
        try:
            while b"\n" not in buf:
                chunk = requests.read(65536)
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            msg = json.loads(line)
            reply = state.run(msg["code"], int(msg["count"]))
            write_all(rep_fd, json_line(reply))
        except KeyboardInterrupt:
            continue  # a late interrupt, after the cell had finished
