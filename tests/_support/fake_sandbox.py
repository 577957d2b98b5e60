"""A small in-test stand-in for the sandbox backend: real files under a temporary directory,
python run in-process with a persistent namespace, shell run with `sh -c`.

It isolates nothing; it exists so the HTTP layer can be tested without the real backend.
"""

from __future__ import annotations

import ast
import contextlib
import datetime
import difflib
import fnmatch
import io
import shutil
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import anyio
import attrs

from aioagb.server.sandbox import (
    WORKSPACE_DIR,
    CodeRun,
    DirEntry,
    FileChange,
    FileEdit,
    FileStat,
    OutputChunk,
    RichOutput,
    SandboxFileError,
    SandboxMetrics,
    SandboxUnavailable,
    SessionFiles,
    ShellOutcome,
    StreamEvent,
)


class FakeSandbox:
    def __init__(self, session_id: str, root: Path) -> None:
        self._session_id = session_id
        self.root = root
        self.root.mkdir(parents=True)
        self.namespace: dict[str, object] = {}
        self.count = 0
        self.closed = False
        self._snapshots: dict[str, dict[str, tuple[float, int, bool]]] = {}
        self.calls: list[str] = []
        self.sync_paths: list[str] = []

    @property
    def session_id(self) -> str:
        return self._session_id

    # No browser and no ports in the fake: what a sandbox without them answers.
    async def open_socket(self, family: int = 0) -> object:
        raise SandboxUnavailable("the fake sandbox has no network")

    async def start_browser(self, launch: object) -> object:
        raise SandboxUnavailable("the fake sandbox has no browser")

    async def stop_browser(self) -> bool:
        return False

    async def browser_endpoint(self) -> None:
        return None

    def host(self, path: str) -> Path:
        if path.startswith(WORKSPACE_DIR):
            path = path[len(WORKSPACE_DIR) :]
        return self.root / path.lstrip("/")

    def visible(self, host: Path) -> str:
        return WORKSPACE_DIR + "/" + str(host.relative_to(self.root)).lstrip(".")

    def _existing(self, path: str) -> Path:
        host = self.host(path)
        if not host.exists():
            raise SandboxFileError(f"No such file or directory: {path}")
        return host

    async def run_code(self, code: str, language: str, timeout_s: float) -> CodeRun:
        self.calls.append("run_code")
        if language != "python":
            raise SandboxUnavailable(f"{language} is not available on this server")
        self.count += 1
        out, err = io.StringIO(), io.StringIO()
        results: list[Mapping[str, object]] = []
        error = None
        started = time.perf_counter()
        try:
            tree = ast.parse(code)
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                exec(compile(tree, "<cell>", "exec"), self.namespace)
                if last is not None:
                    value = eval(
                        compile(ast.Expression(last.value), "<cell>", "eval"), self.namespace
                    )
                    if value is not None:
                        results.append({"text/plain": repr(value), "isMainResult": True})
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            err.write(f"Traceback...\n{error}\n")
        return CodeRun(
            stdout=[out.getvalue()] if out.getvalue() else [],
            stderr=[err.getvalue()] if err.getvalue() else [],
            results=results,
            error=error,
            execution_count=self.count,
            execution_time=time.perf_counter() - started,
        )

    @contextlib.asynccontextmanager
    async def stream_code(
        self, code: str, language: str, timeout_s: float
    ) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        """run_code, then its output as events (the fake does not stream for real)."""
        run = await self.run_code(code, language, timeout_s)

        async def events() -> AsyncIterator[StreamEvent]:
            for text in run.stdout:
                yield OutputChunk("stdout", text)
            for text in run.stderr:
                yield OutputChunk("stderr", text)
            for bundle in run.results:
                yield RichOutput(bundle)
            yield attrs.evolve(run, stdout=[], stderr=[], results=[])

        yield events()

    async def metrics(self) -> SandboxMetrics:
        self.calls.append("metrics")
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat()
        return SandboxMetrics(2, 12.5, 1 << 30, 1 << 20, 1 << 30, 4096, 0.0, 0.0, 0.0, 0.0, stamp)

    async def shell(
        self,
        command: str,
        timeout_s: float,
        cwd: str | None = None,
        envs: Mapping[str, str] | None = None,
    ) -> ShellOutcome:
        self.calls.append("shell")
        workdir = self.host(cwd) if cwd else self.root
        with anyio.move_on_after(timeout_s):
            done = await anyio.run_process(
                ["sh", "-c", command], cwd=workdir, env=dict(envs or {}) or None, check=False
            )
            return ShellOutcome(
                stdout=done.stdout.decode(), stderr=done.stderr.decode(), exit_code=done.returncode
            )
        return ShellOutcome(stdout="", stderr="timed out", exit_code=124, timed_out=True)

    async def read_file(self, path: str, offset: int, length: int) -> bytes:
        host = self._existing(path)
        if host.is_dir():
            raise SandboxFileError(f"Is a directory: {path}")
        with host.open("rb") as f:
            f.seek(offset)
            return f.read(length)

    async def write_file(self, path: str, content: str, mode: str) -> None:
        host = self.host(path)
        host.parent.mkdir(parents=True, exist_ok=True)
        with host.open("a" if mode == "append" else "w", encoding="utf-8", newline="") as f:
            f.write(content)

    async def get_file_info(self, path: str) -> FileStat:
        st = self._existing(path).stat()

        def iso(t: float) -> str:
            return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat()

        host = self.host(path)
        return FileStat(
            size=st.st_size,
            is_directory=host.is_dir(),
            is_file=host.is_file(),
            permissions=oct(st.st_mode & 0o777)[2:],
            created=iso(st.st_ctime),
            modified=iso(st.st_mtime),
            accessed=iso(st.st_atime),
        )

    async def list_directory(self, path: str) -> Sequence[DirEntry]:
        host = self._existing(path)
        if not host.is_dir():
            raise SandboxFileError(f"Not a directory: {path}")
        return [DirEntry(c.name, c.is_dir()) for c in sorted(host.iterdir())]

    async def create_directory(self, path: str) -> None:
        self.host(path).mkdir(parents=True, exist_ok=True)

    async def move_file(self, source: str, destination: str) -> None:
        shutil.move(self._existing(source), self.host(destination))

    async def delete_file(self, path: str) -> None:
        host = self._existing(path)
        if host.is_dir():
            shutil.rmtree(host)
        else:
            host.unlink()

    async def edit_file(self, path: str, edits: Sequence[FileEdit], dry_run: bool) -> str:
        host = self._existing(path)
        before = after = host.read_text(encoding="utf-8")
        for edit in edits:
            if edit.old_text not in after:
                raise SandboxFileError(f"Text not found in {path}: {edit.old_text!r}")
            after = after.replace(edit.old_text, edit.new_text, 1)
        if not dry_run:
            host.write_text(after, encoding="utf-8")
        return "".join(
            difflib.unified_diff(before.splitlines(True), after.splitlines(True), path, path)
        )

    async def search_files(
        self, path: str, pattern: str, exclude_patterns: Sequence[str] = ()
    ) -> Sequence[str]:
        host = self._existing(path)
        found = []
        for entry in sorted(host.rglob("*")):
            if fnmatch.fnmatch(entry.name, pattern) and not any(
                fnmatch.fnmatch(entry.name, x) for x in exclude_patterns
            ):
                found.append(self.visible(entry))
        return found

    async def get_file_change(self, path: str) -> Sequence[FileChange]:
        host = self._existing(path)
        now = {str(e): (e.stat().st_mtime, e.stat().st_size, e.is_dir()) for e in host.rglob("*")}
        before = self._snapshots.get(path)
        self._snapshots[path] = now
        if before is None:
            return []
        changes = []
        for name, info in now.items():
            kind = "directory" if info[2] else "file"
            if name not in before:
                changes.append(FileChange("create", self.visible(Path(name)), kind))
            elif before[name] != info:
                changes.append(FileChange("modify", self.visible(Path(name)), kind))
        for name, info in before.items():
            if name not in now:
                kind = "directory" if info[2] else "file"
                changes.append(FileChange("delete", self.visible(Path(name)), kind))
        return changes

    async def host_files(self) -> SessionFiles:
        # The same mapping as `host()`: /workspace is the root, any other path below it.
        return SessionFiles({WORKSPACE_DIR: self.root, "/": self.root}, uid=None)

    async def aclose(self) -> None:
        self.closed = True
        shutil.rmtree(self.root, ignore_errors=True)


class FakeBackend:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sandboxes: dict[str, FakeSandbox] = {}
        self.closed = False

    @property
    def name(self) -> str:
        return "fake"

    @property
    def languages(self) -> Sequence[str]:
        return ("python",)

    async def create(
        self, session_id: str, sync_paths: Sequence[str] = (), *, browser: bool = False
    ) -> FakeSandbox:
        sandbox = FakeSandbox(session_id, self.root / session_id)
        sandbox.sync_paths = list(sync_paths)
        self.sandboxes[session_id] = sandbox
        return sandbox

    async def keep_warm(self) -> None:
        return None  # no sandboxes are started ahead of demand

    async def aclose(self) -> None:
        for sandbox in self.sandboxes.values():
            await sandbox.aclose()
        self.closed = True
