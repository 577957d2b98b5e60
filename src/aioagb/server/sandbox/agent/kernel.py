"""The python kernel process: runs cells in one persistent namespace, notebook style.

It starts as a small kernel of the standard library's own (a session's first python call
must stay fast), and upgrades *the same namespace* to an IPython `InteractiveShell`
(`ipython_shell`) on the first cell that needs IPython, when the interpreter has it: magics
and shell escapes (`%time`, `!ls`), `display` and `get_ipython`, and imports of IPython or of
libraries that display through it (altair, plotly, ...). Everything else the stdlib kernel
does itself: rich `_repr_*_` and `_repr_mimebundle_` bundles, top-level `await`, and
matplotlib figures as PNG on `plt.show()` and at the end of a cell (`_FigureHook`).

Cells come in on one pipe; on another, each cell's rich results go out as they are
displayed (`{"result": bundle, ...}`), then its end (`{"done": true, "error", ...}`). Its
stdout and stderr are the process's own, read by the agent (`kernel_host`) while it runs.
It imports only this module of the package (and `jsonlines`, and `ipython_shell` when it
upgrades).
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import json
import linecache
import os
import signal
import sys
import types
from collections.abc import Mapping

from .jsonlines import JSONDict, json_line, write_all

# Not `typing.TYPE_CHECKING`: importing typing costs every agent and kernel ~2 ms at start
# (mypy reads any `TYPE_CHECKING` as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from typing import Any

MAX_RESULTS_BYTES = 32 * 1024 * 1024  # the rich results of one cell, all together
CO_COROUTINE = 0x0080  # inspect.CO_COROUTINE, without importing inspect
TOO_LARGE = {"text/plain": "[result too large, dropped]"}

_RICH = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
)

# Names whose use means the cell wants IPython's display system itself.
IPYTHON_NAMES = frozenset({"display", "get_ipython", "update_display", "clear_output"})
# Top-level packages that are IPython, or show their objects only through its display().
IPYTHON_PACKAGES = frozenset({"IPython", "ipywidgets", "altair", "plotly", "bokeh"})


def clean_bundle(data: Mapping[str, object]) -> JSONDict:
    """A mime bundle made safe for JSON: bytes as base64 text, JSON types (`application/json`,
    `...+json`) kept as objects when they are JSON, anything else as text."""
    bundle: JSONDict = {}
    for mime, value in data.items():
        if isinstance(value, bytes | bytearray):
            value = base64.b64encode(value).decode("ascii")
        elif mime.endswith("json"):
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                value = str(value)
        elif not isinstance(value, str):
            value = str(value)
        bundle[str(mime)] = value
    return bundle


def mime_bundle(obj: object) -> JSONDict:
    """`obj`'s mime bundle: its repr, every `_repr_*_` it offers, then its
    `_repr_mimebundle_` (which wins, as in IPython)."""
    bundle: dict[str, object] = {"text/plain": repr(obj)}
    for mime, method in _RICH:
        value = _call_repr(obj, method)
        if isinstance(value, tuple):  # (data, metadata)
            value = value[0]
        if value is not None:
            bundle[mime] = value
    extra = _call_repr(obj, "_repr_mimebundle_", include=None, exclude=None)
    if isinstance(extra, tuple):
        extra = extra[0]
    if isinstance(extra, dict):
        bundle.update(extra)
    return clean_bundle(bundle)


def _call_repr(obj: object, method: str, **kwargs: object) -> Any:
    fn = getattr(obj, method, None)
    if not callable(fn):
        return None
    try:
        return fn(**kwargs)
    except Exception:
        return None


class Kernel:
    """The session's namespace, the cell running now, and where its results go."""

    def __init__(self, rep_fd: int) -> None:
        self.rep_fd = rep_fd
        # A real `__main__` module, so that classes defined in cells pickle.
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        self.namespace: dict[str, Any] = main.__dict__
        self.namespace["__builtins__"] = builtins
        self.namespace["display"] = self.display
        self.shell: Any = None  # the IPython shell, once upgraded
        self._ipython: bool | None = None  # whether the interpreter has IPython (cached)
        self._loop: asyncio.AbstractEventLoop | None = None  # for top-level await
        self._results_bytes = 0
        sys.meta_path.insert(0, _FigureHook(self))

    # --- results ------------------------------------------------------------------------

    def publish(
        self,
        data: Mapping[str, object],
        main: bool = False,
        display_id: str | None = None,
        update: bool = False,
    ) -> None:
        """Sends one rich result to the agent now (after what the cell printed before it)."""
        bundle = clean_bundle(data)
        line = json.dumps(bundle)
        self._results_bytes += len(line)
        if self._results_bytes > MAX_RESULTS_BYTES:
            bundle = dict(TOO_LARGE)
        bundle["isMainResult"] = main
        self._send({"result": bundle, "display_id": display_id, "update": update})

    def _send(self, msg: JSONDict) -> None:
        """One line to the agent, after what the cell printed so far. An interrupt in the
        middle of the write would leave half a line in the pipe: SIGINT waits until the line
        is out, then lands."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            write_all(self.rep_fd, json_line(msg))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def display(self, *objs: object, **_options: object) -> None:
        """`display(...)` without IPython: one bundle per object."""
        for obj in objs:
            self.publish(mime_bundle(obj))

    def show_figures(self) -> None:
        """Every open matplotlib figure becomes an image/png result, then is closed."""
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return
        import io

        try:
            for num in plt.get_fignums():
                fig = plt.figure(num)
                buf = io.BytesIO()
                fig.savefig(buf, format="png")
                self.publish({"text/plain": repr(fig), "image/png": buf.getvalue()})
            plt.close("all")
        except Exception as exc:
            print(f"could not render matplotlib figures: {exc!r}", file=sys.stderr)

    # --- cells --------------------------------------------------------------------------

    def run(self, code: str, count: int) -> None:
        """Runs one cell; its results and then its end go to the agent."""
        self._results_bytes = 0
        try:
            if self.shell is None and self._wants_ipython(code):
                self._upgrade()
            if self.shell is not None:
                error, tb = self.shell.run(code, count), None
            else:
                error, tb = self._run_plain(code, count)
        except KeyboardInterrupt:  # between the cell's own end and here
            error, tb = "KeyboardInterrupt", None
        # The cell is over: an interrupt now would lose its end, so it waits until then
        # (and is then ignored by `kernel_main`).
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.show_figures()
            self._send({"done": True, "error": error, "traceback": tb, "execution_count": count})
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def _run_plain(self, code: str, count: int) -> tuple[str | None, str | None]:
        """A cell on the stdlib kernel: (short error, traceback) or (None, None). The value
        of a final expression is the main result; top-level `await` works."""
        import ast

        name = f"<cell {count}>"
        try:
            linecache.cache[name] = (len(code), None, code.splitlines(keepends=True), name)
            tree = ast.parse(code, filename=name, mode="exec")
            last = None
            tail = tree.body[-1] if tree.body else None
            if isinstance(tail, ast.Expr):
                tree.body.pop()
                last = ast.Expression(tail.value)
            flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            self._evaluate(compile(tree, name, "exec", flags=flags))
            if last is not None:
                value = self._evaluate(compile(last, name, "eval", flags=flags))
                if value is not None:
                    self.namespace["_"] = value
                    self.publish(mime_bundle(value), main=True)
        except BaseException as exc:
            import traceback  # only for a failed cell: ~2 ms of the kernel's start otherwise

            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            # The cell's own syntax error has no frame of the user's: only the parser's.
            own_syntax = isinstance(exc, SyntaxError) and exc.filename == name
            frames = None if own_syntax else _user_frames(exc)
            return error, "".join(traceback.format_exception(type(exc), exc, frames))
        return None, None

    def _evaluate(self, code: types.CodeType) -> Any:
        """Runs compiled cell code in the namespace. Code with a top-level `await` runs as a
        coroutine, on the kernel's one event loop (which later cells share)."""
        value = eval(code, self.namespace)
        if not code.co_flags & CO_COROUTINE:
            return value  # even a coroutine object the cell made but did not await
        if self._loop is None:
            import asyncio

            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(value)

    # --- IPython ------------------------------------------------------------------------

    def _wants_ipython(self, code: str) -> bool:
        """Whether this cell needs IPython, and the interpreter has it."""
        if not (needs_ipython(code) or "IPython" in sys.modules):
            return False
        if self._ipython is None:
            import importlib.util

            self._ipython = importlib.util.find_spec("IPython") is not None
        return self._ipython

    def _upgrade(self) -> None:
        """The namespace moves under an IPython shell; a failure leaves the stdlib kernel."""
        try:
            from . import ipython_shell

            self.shell = ipython_shell.KernelShell.start(self)
        except Exception as exc:
            self._ipython = False
            print(f"IPython could not start; using the basic kernel: {exc!r}", file=sys.stderr)


def needs_ipython(code: str) -> bool:
    """Whether `code` uses IPython: its own syntax (magics, `!` shell escapes, `?` help), the
    names of its display system, or imports of packages that display through it."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return _ipython_syntax(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in IPYTHON_NAMES:
            return True
        if isinstance(node, ast.Import) and any(_ipython_package(a.name) for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _ipython_package(node.module):
            return True
    return False


def _ipython_package(module: str | None) -> bool:
    return bool(module) and str(module).split(".")[0] in IPYTHON_PACKAGES


def _ipython_syntax(code: str) -> bool:
    """Lines only IPython runs: `%magic`, `%%cell magic`, `!cmd`, `x = !cmd`, `obj?`."""
    import re

    line_forms = re.compile(r"^\s*[%!]|^\s*[\w.]+\s*=\s*[%!]|\?\s*$")
    return any(line_forms.search(line) for line in code.splitlines())


def _user_frames(exc: BaseException) -> Any:
    """The traceback without the kernel's own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


class _FigureHook:
    """Makes `plt.show()` send the open figures as image/png results (the agg backend has
    no window to show them in): it patches `matplotlib.pyplot` right after its first
    import, so matplotlib itself is imported only by cells that use it."""

    TARGET = "matplotlib.pyplot"

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self._busy = False

    def find_spec(self, name: str, path: object = None, target: object = None) -> Any:
        if name != self.TARGET or self._busy:
            return None
        import importlib.util

        self._busy = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: types.ModuleType) -> None:
            run_module(module)
            setattr(module, "show", lambda *args, **kwargs: self._kernel.show_figures())  # noqa: B010

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def kernel_main(req_fd: int, rep_fd: int, cwd: str) -> None:
    """Serves cells from `req_fd` until it closes, replying on `rep_fd`, with `cwd` (the
    session's workspace) as the working directory and first on `sys.path`."""
    os.chdir(cwd)
    sys.path.insert(0, "")
    # Each line out as it is printed (stderr is line-buffered already); the rest of what a
    # cell writes goes out before each of its results and at its end (`Kernel._send`).
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.environ.setdefault("MPLBACKEND", "Agg")
    # IPython keeps its profile here, out of the user's workspace (HOME).
    os.environ.setdefault("IPYTHONDIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), ".ipython"))
    kernel = Kernel(rep_fd)
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
            kernel.run(msg["code"], int(msg["count"]))
        except KeyboardInterrupt:
            continue  # a late interrupt, after the cell had finished
