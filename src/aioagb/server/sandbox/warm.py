"""Warm sandboxes: code-space sandboxes started ahead of demand, so that a session's first call
finds its agent and python kernel running (docs/sandbox.md, "Warm sandboxes").

A warm sandbox is an ordinary `LocalSandbox` under a pool key instead of a session id: its own
directories, uid, cgroup and namespaces, and nothing in them but what its start made. A
session's first use (its first call, or the first copy of context files into it) takes one,
and it becomes that session's for good: it serves one session only and is destroyed with it,
like every sandbox. So nothing of one tenant can reach another through the pool; a sandbox is
never handed back. Sessions that stay idle take none: they cost no process, as without a
pool.

The pool refills in the background, one start at a time and within a CPU budget, so that
refilling never competes with live sessions: it waits while sessions' own sandboxes are
starting, runs its starts at a lower scheduling priority (restored when a session takes the
sandbox), and after each start pauses in proportion to what that start took.

Its size adapts between a floor and a ceiling: each session that wanted a warm sandbox and
found none raises the target by one (up to `max_size`), so the next burst of that size finds
its sandboxes ready; after SHRINK_AFTER_S without such a miss, the target falls back to the
floor and the surplus is ended.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from .interface import SandboxError

if TYPE_CHECKING:
    from .backend import LocalSandbox

log = logging.getLogger("aioagb.server.sandbox")

# The share of one CPU core the refill may take, averaged over its starts: after a start that
# took t seconds, the refill pauses t * (1 / BUDGET - 1).
CPU_BUDGET = 0.5
# How often an idle refill looks at its pool (a pooled sandbox that died is replaced then).
HEALTH_INTERVAL_S = 2.0
# After a start failed: the pause before the next try (a broken machine must not spin).
FAILED_START_PAUSE_S = 5.0
# While sessions' own sandboxes are starting, the refill looks again this often.
BUSY_POLL_S = 0.05
# A pool grown by misses goes back to its floor after this long without one.
SHRINK_AFTER_S = 600.0


class WarmPool:
    """Started sandboxes, made by `start` and handed out by `take`: `size` of them, or up to
    `max_size` while misses show that more are wanted (None: always `size`).

    `busy` says whether live sessions' sandboxes are starting (the refill waits then).
    Run `run` in a task for the server's lifetime; `aclose` ends every pooled sandbox.
    """

    def __init__(
        self,
        size: int,
        start: Callable[[], Awaitable[LocalSandbox]],
        busy: Callable[[], bool] = lambda: False,
        *,
        max_size: int | None = None,
        cpu_budget: float = CPU_BUDGET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 0:
            raise ValueError("a warm pool's size is 0 or more")
        if max_size is not None and max_size < size:
            raise ValueError("a warm pool's max_size is at least its size")
        if not 0 < cpu_budget <= 1:
            raise ValueError("cpu_budget is a share of one core: in (0, 1]")
        self.size = size
        self.max_size = size if max_size is None else max_size
        self.target = size  # what the refill fills up to now: size <= target <= max_size
        self.misses = 0  # sessions that wanted a warm sandbox and found none
        self._last_miss = -math.inf
        self._clock = clock
        self._start = start
        self._busy = busy
        self._cpu_budget = cpu_budget
        self._ready: deque[LocalSandbox] = deque()
        self._wanted = anyio.Event()
        self._closed = False
        self.started_total = 0  # sandboxes this pool started (for tests and stats)
        self.replaced_total = 0  # pooled sandboxes found dead and ended

    @property
    def ready(self) -> int:
        """How many started sandboxes wait in the pool now."""
        return len(self._ready)

    def take(self) -> LocalSandbox | None:
        """A started sandbox, no longer the pool's; None when none is ready (the session's
        sandbox then starts on its first call, as without a pool). A pooled sandbox whose
        agent died is not handed out: the refill ends and replaces it."""
        for sandbox in self._ready:
            if sandbox.started:
                self._ready.remove(sandbox)
                self._wanted.set()  # the refill starts its replacement
                return sandbox
        self._missed()
        return None

    def _missed(self) -> None:
        self.misses += 1
        self._last_miss = self._clock()
        if self.target < self.max_size:
            self.target += 1
            self._wanted.set()

    async def run(self) -> None:
        """Keeps the pool full until cancelled."""
        while not self._closed:
            await self._end_dead()
            await self._shrink_when_quiet()
            if len(self._ready) >= self.target:
                self._wanted = anyio.Event()
                with anyio.move_on_after(HEALTH_INTERVAL_S):
                    await self._wanted.wait()
                continue
            if self._busy():
                await anyio.sleep(BUSY_POLL_S)
                continue
            began = time.monotonic()
            try:
                sandbox = await self._start()
            except Exception as exc:  # the refill must outlive any one failed start
                log.warning(
                    "could not start a warm sandbox (next try in %gs): %s",
                    FAILED_START_PAUSE_S,
                    exc,
                    exc_info=not isinstance(exc, SandboxError),  # a bug: its traceback too
                )
                await anyio.sleep(FAILED_START_PAUSE_S)
                continue
            if self._closed:
                await sandbox.aclose()
                return
            self._ready.append(sandbox)
            self.started_total += 1
            if self.started_total == self.size:  # the first fill: the server is ready at once
                log.info("%d warm sandboxes ready", self.size)
            elif len(self._ready) == self.target > self.size:
                log.info(
                    "%d warm sandboxes ready (grown after %d misses)", self.target, self.misses
                )
            await anyio.sleep(refill_pause(time.monotonic() - began, self._cpu_budget))

    async def _shrink_when_quiet(self) -> None:
        if self.target == self.size or self._clock() - self._last_miss < SHRINK_AFTER_S:
            return
        self.target = self.size
        while len(self._ready) > self.target:
            await self._ready.pop().aclose()
        log.info("warm sandboxes back to %d (no miss for %gs)", self.size, SHRINK_AFTER_S)

    async def _end_dead(self) -> None:
        dead = [sandbox for sandbox in self._ready if not sandbox.started]
        for sandbox in dead:
            self._ready.remove(sandbox)
            self.replaced_total += 1
            log.warning("a warm sandbox's agent died; it is replaced")
            await sandbox.aclose()

    async def aclose(self) -> None:
        """Ends every pooled sandbox; the pool hands out nothing more."""
        self._closed = True
        self._wanted.set()
        with anyio.CancelScope(shield=True):
            while self._ready:
                await self._ready.popleft().aclose()


def refill_pause(took_s: float, cpu_budget: float = CPU_BUDGET) -> float:
    """The pause after a start that took `took_s`, for `cpu_budget` of one core."""
    return max(0.0, took_s * (1 / cpu_budget - 1))


def restore_priority(pid: int) -> None:
    """Gives every thread of `pid` and of its descendants niceness 0 (Linux keeps niceness per
    thread). Best effort: a process that ended meanwhile is skipped."""
    for _process, threads in process_tree(pid):
        for tid in threads:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, 0)


def process_tree(pid: int) -> Iterator[tuple[int, list[int]]]:
    """`pid` and every process below it (host pids), each with its threads' ids; a process
    that ended meanwhile is skipped. Each is yielded before its children are read, so a
    caller acts on a parent before anything it starts next."""
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            threads = [int(tid) for tid in os.listdir(f"/proc/{current}/task")]
        except OSError:
            continue
        yield current, threads
        for tid in threads:
            with contextlib.suppress(OSError, ValueError):
                children = Path(f"/proc/{current}/task/{tid}/children").read_text()
                todo.extend(int(child) for child in children.split())
