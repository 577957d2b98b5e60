"""The store's upkeep as a background job: expired files dropped, the trash emptied, clears
ended; every `interval_s`, and soon after a `poke()` (a ClearContext wants its `available`
state back within the client's polling, §13.4)."""

from __future__ import annotations

import logging

import anyio

from .store import ContextStore

log = logging.getLogger("aioagb.server.store")


class Maintenance:
    """Runs `ContextStore.maintain` now and then, until cancelled."""

    def __init__(self, store: ContextStore, interval_s: float) -> None:
        self._store = store
        self._interval_s = interval_s
        self._wake: anyio.Event | None = None
        self._poked = False

    def poke(self) -> None:
        """Asks for a run soon (from the event loop's thread)."""
        self._poked = True
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Runs until cancelled; a failing run is logged and tried again later."""
        while True:
            self._wake = anyio.Event()
            if not self._poked:
                with anyio.move_on_after(self._interval_s):
                    await self._wake.wait()
            self._poked = False
            try:
                await self._store.run(self._store.maintain)
            except Exception:
                log.exception("store maintenance failed")
