"""The JSON-lines channel to one session's agent process: concurrent calls over its stdin and
stdout, the start-up handshake, and killing it with everything it started."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from .uids import kill_uid

MAX_REPLY_BYTES = 256 * 1024 * 1024


class AgentGone(Exception):
    """The agent process exited or broke the protocol."""


class AgentChannel:
    """A running agent process and the JSON-lines channel to it.

    Several calls may be in flight at once. There is no reader task: whichever caller holds
    the read lock reads one reply line, files it under its id and releases the lock, so the
    owner of that reply (waiting for the lock) picks it up next (anyio's locks are fair)."""

    def __init__(self, process: anyio.abc.Process, kill_group: bool) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._stdin = process.stdin
        self._stdout = BufferedByteReceiveStream(process.stdout)
        self._kill_group = kill_group
        self._ids = itertools.count(1)
        self._write_lock = anyio.Lock()
        self._read_lock = anyio.Lock()
        self._waiting: set[int] = set()
        self._replies: dict[int, dict[str, Any]] = {}
        self.broken = False
        # Host pid of the sandbox's pid 1 (bubblewrap's --info-fd), when there is one.
        self.namespace_pid: int | None = None

    @property
    def alive(self) -> bool:
        """Whether calls can still go through: the process runs and the channel is intact."""
        return not self.broken and self.process.returncode is None

    async def handshake(self, config: Mapping[str, object]) -> None:
        """Sends the agent its configuration (the first line of its stdin) and waits for its
        ready line; raises `AgentGone` when it does not start."""
        await self._stdin.send(json.dumps(config).encode() + b"\n")
        ready = await self._read_line()
        if not (ready.get("ok") and ready.get("id") == 0):
            raise AgentGone("the sandbox agent did not start")

    async def _read_line(self) -> dict[str, Any]:
        try:
            line = await self._stdout.receive_until(b"\n", MAX_REPLY_BYTES)
            msg = json.loads(line)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError) as exc:
            self.broken = True
            raise AgentGone("the sandbox agent exited") from exc
        except (anyio.DelimiterNotFound, ValueError) as exc:
            self.broken = True
            raise AgentGone("the sandbox agent sent a malformed reply") from exc
        if not isinstance(msg, dict):
            self.broken = True
            raise AgentGone("the sandbox agent sent a malformed reply")
        return msg

    async def call(self, op: str, args: Mapping[str, object]) -> dict[str, Any]:
        """Sends one request and returns its reply (`{"id", "ok", "result" | "error"}`)."""
        if self.broken:
            raise AgentGone("the sandbox agent is gone")
        rid = next(self._ids)
        self._waiting.add(rid)
        try:
            line = json.dumps({**args, "id": rid, "op": op}).encode() + b"\n"
            try:
                async with self._write_lock:
                    await self._stdin.send(line)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                self.broken = True
                raise AgentGone("the sandbox agent exited") from exc
            while rid not in self._replies:
                async with self._read_lock:
                    if rid in self._replies:
                        break
                    msg = await self._read_line()
                    if msg.get("id") in self._waiting:
                        self._replies[msg["id"]] = msg
            return self._replies.pop(rid)
        finally:
            self._waiting.discard(rid)
            self._replies.pop(rid, None)

    async def kill(self, uid: int | None) -> None:
        """Ends the agent and everything it started; always reaps it. Never raises."""
        self.broken = True
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            if self._kill_group and self.process.returncode is None:
                # plain mode: let the agent kill its own process groups first.
                with contextlib.suppress(Exception):
                    await self._stdin.aclose()
                with anyio.move_on_after(1):
                    await self.process.wait()
            if self.namespace_pid is not None and self.process.returncode is None:
                # Kill the namespace's pid 1, not the outer bubblewrap: the outer one then
                # reaps it and exits. Killing the outer first orphans the inner one to the
                # host's init as a zombie (SANDBOX.md, trap 3).
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.namespace_pid, signal.SIGKILL)
                with anyio.move_on_after(2):
                    await self.process.wait()
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()  # the pid namespace takes everything down with it
            if self._kill_group:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            if uid is not None:
                await anyio.to_thread.run_sync(kill_uid, uid)
            with contextlib.suppress(Exception):
                await self.process.aclose()
            with contextlib.suppress(Exception):
                await self._stdout.aclose()
