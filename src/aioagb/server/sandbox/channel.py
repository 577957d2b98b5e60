"""The JSON-lines channel to one session's agent process: concurrent calls and streams over its
stdin and stdout, notifications that steer them, the start-up handshake, and killing the
agent with everything it started."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
from collections import deque
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from .uids import kill_uid

MAX_REPLY_BYTES = 256 * 1024 * 1024
CANCEL_SEND_TIMEOUT_S = 2.0


class AgentGone(Exception):
    """The agent process exited or broke the protocol."""


class AgentChannel:
    """A running agent process and the JSON-lines channel to it.

    Several calls may be in flight at once. There is no reader task: whichever caller holds
    the read lock reads one line, files it in the inbox of its request id and releases the
    lock, so the owner of that line (waiting for the lock) picks it up next (anyio's locks
    are fair). A streaming call's events are filed the same way; the agent sends no more of
    them than the call granted credits for, so an inbox stays small however slowly its
    owner reads it."""

    def __init__(self, process: anyio.abc.Process, kill_group: bool) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._stdin = process.stdin
        self._stdout = BufferedByteReceiveStream(process.stdout)
        self._kill_group = kill_group
        self._ids = itertools.count(1)
        self._write_lock = anyio.Lock()
        self._read_lock = anyio.Lock()
        self._inbox: dict[int, deque[dict[str, Any]]] = {}
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

    async def _write(self, msg: Mapping[str, object]) -> None:
        if self.broken:
            raise AgentGone("the sandbox agent is gone")
        line = json.dumps(msg).encode() + b"\n"
        try:
            async with self._write_lock:
                await self._stdin.send(line)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            self.broken = True
            raise AgentGone("the sandbox agent exited") from exc

    async def _send(self, op: str, args: Mapping[str, object]) -> int:
        """Sends one request; its lines will be filed under the returned id."""
        rid = next(self._ids)
        self._inbox[rid] = deque()
        try:
            await self._write({**args, "id": rid, "op": op})
        except BaseException:
            del self._inbox[rid]
            raise
        return rid

    async def _next(self, rid: int) -> dict[str, Any]:
        """The next line for request `rid`: an event, or its reply."""
        inbox = self._inbox[rid]
        while not inbox:
            async with self._read_lock:
                if inbox:
                    break
                msg = await self._read_line()
                owner = self._inbox.get(msg.get("id"))  # type: ignore[arg-type]
                if owner is not None:
                    owner.append(msg)
        return inbox.popleft()

    async def call(self, op: str, args: Mapping[str, object]) -> dict[str, Any]:
        """Sends one request and returns its reply (`{"id", "ok", "result" | "error"}`). A
        call cancelled while it waits cancels its request in the agent (see `notify`)."""
        rid = await self._send(op, args)
        try:
            return await self._next(rid)
        except anyio.get_cancelled_exc_class():
            await self.cancel(rid)
            raise
        finally:
            self._inbox.pop(rid, None)

    async def notify(self, op: str, args: Mapping[str, object]) -> None:
        """Sends a notification (no id, no reply): `credit` or `cancel` for a request."""
        await self._write({**args, "op": op})

    async def cancel(self, rid: int) -> None:
        """Asks the agent to interrupt request `rid`, shielded and bounded; never raises
        (an agent that is gone has nothing left to interrupt)."""
        bounded = anyio.move_on_after(CANCEL_SEND_TIMEOUT_S)
        with anyio.CancelScope(shield=True), bounded, contextlib.suppress(AgentGone):
            await self.notify("cancel", {"target": rid})

    def open_stream(self, op: str, args: Mapping[str, object], credits: int) -> AgentStream:
        """A streaming request: its events, then its reply (`AgentStream`)."""
        return AgentStream(self, op, {**args, "stream": True, "credits": credits})

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


class AgentStream:
    """One streaming request, as an async context manager: `receive()` returns its events
    (`{"event": ...}` lines) and finally its reply; each event taken grants the agent one
    more credit. Leaving before the reply came cancels the request in the agent and waits
    (bounded) for it to end, so its processes are interrupted before the caller goes on."""

    def __init__(self, channel: AgentChannel, op: str, args: Mapping[str, object]) -> None:
        self._channel = channel
        self._op = op
        self._args = args
        self._rid: int | None = None
        self.finished = False

    async def __aenter__(self) -> AgentStream:
        self._rid = await self._channel._send(self._op, self._args)
        return self

    async def receive(self) -> dict[str, Any]:
        """The next event line, or the reply (then `finished` is true)."""
        assert self._rid is not None and not self.finished
        msg = await self._channel._next(self._rid)
        if "event" in msg:
            await self._channel.notify("credit", {"target": self._rid, "n": 1})
        else:
            self.finished = True
        return msg

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._rid is not None
        try:
            if not self.finished and self._channel.alive:
                await self._channel.cancel(self._rid)
                await self._await_end()
        finally:
            self._channel._inbox.pop(self._rid, None)

    async def _await_end(self, timeout_s: float = 10.0) -> None:
        """Reads (and drops) what is left of the request until its reply: shielded, bounded,
        and never raising (the agent may be gone)."""
        bounded = anyio.move_on_after(timeout_s)
        with anyio.CancelScope(shield=True), bounded, contextlib.suppress(AgentGone):
            while not self.finished:
                await self.receive()
