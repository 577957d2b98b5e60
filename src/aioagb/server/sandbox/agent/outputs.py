"""Where a call's output goes: `Capture` keeps a capped amount of one pipe's bytes; `CellOutput`
takes a run_code call's stdout, stderr and rich results and either keeps them for the reply
or, when the call streams, sends them to the server as events while the call runs. Either
way the output cap holds: what is past it is read and thrown away, never buffered."""

from __future__ import annotations

import codecs

from .jsonlines import JSONDict

# Not `typing.TYPE_CHECKING`: importing typing costs every agent and kernel ~2 ms at start
# (mypy reads any `TYPE_CHECKING` as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .control import RunControl

STREAMS = ("stdout", "stderr")


def truncation_marker(cap: int) -> str:
    """The line that stands for what was cut."""
    return f"\n[... output truncated at {cap} bytes ...]\n"


class Capture:
    """Counts one pipe's bytes against `cap`, keeping what fits when `keep` is true."""

    def __init__(self, cap: int, keep: bool = True) -> None:
        self.cap = cap
        self.keep = keep
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False

    def feed(self, data: bytes) -> bytes:
        """Takes `data`; returns the part of it under the cap (kept when `keep`)."""
        room = self.cap - self.size
        fits = data[: max(room, 0)]
        if fits:
            self.size += len(fits)
            if self.keep:
                self.parts.append(fits)
        if len(data) > len(fits):
            self.truncated = True
        return fits

    def text(self) -> str:
        """The kept output as text, with a truncation marker when some was dropped."""
        out = b"".join(self.parts).decode("utf-8", errors="replace")
        if self.truncated:
            out += truncation_marker(self.cap)
        return out


class CellOutput:
    """One run_code call's output: kept for its reply, or streamed through `control`."""

    def __init__(self, cap: int, control: RunControl) -> None:
        self._control = control
        self.streaming = control.streaming
        self._captures = {name: Capture(cap, keep=not self.streaming) for name in STREAMS}
        # Streamed chunks are text: a character split across two reads waits for its end.
        self._decoders = {
            name: codecs.getincrementaldecoder("utf-8")(errors="replace") for name in STREAMS
        }
        self.results: list[JSONDict] = []
        self._displays: dict[str, int] = {}  # display_id -> index in `results`

    @property
    def truncated(self) -> bool:
        """Whether some stdout or stderr was dropped at the cap."""
        return any(capture.truncated for capture in self._captures.values())

    def feed(self, name: str, data: bytes) -> None:
        """Bytes the call wrote to `name` ("stdout" or "stderr")."""
        capture = self._captures[name]
        was_truncated = capture.truncated
        fits = capture.feed(data)
        if not self.streaming:
            return
        text = self._decoders[name].decode(fits)
        if text:
            self._control.emit({"type": name, "text": text})
        if capture.truncated and not was_truncated:
            self._control.emit({"type": name, "text": truncation_marker(capture.cap)})

    def write(self, name: str, text: str) -> None:
        """Text of the agent's own for the call's output (a traceback, an error line)."""
        self.feed(name, text.encode("utf-8"))

    def result(self, bundle: JSONDict, display_id: str | None = None, update: bool = False) -> None:
        """One rich result. An update of a display of this same call replaces it in the
        reply, as a notebook redraws it in place; streamed, every update is a new event."""
        if self.streaming:
            self._control.emit({"type": "result", "bundle": bundle})
            return
        if display_id is not None and update and display_id in self._displays:
            self.results[self._displays[display_id]] = bundle
            return
        if display_id is not None:
            self._displays[display_id] = len(self.results)
        self.results.append(bundle)

    def reply(self) -> JSONDict:
        """The output part of the call's reply: everything kept (nothing when streamed)."""
        if self.streaming:
            for name in STREAMS:  # a character cut off at the very end
                tail = self._decoders[name].decode(b"", final=True)
                if tail:
                    self._control.emit({"type": name, "text": tail})
        kept = {
            name: [c.text()] if c.keep and (c.size or c.truncated) else []
            for name, c in self._captures.items()
        }
        return {
            "stdout": kept["stdout"],
            "stderr": kept["stderr"],
            "results": [] if self.streaming else self.results,
            "truncated": self.truncated,
        }
