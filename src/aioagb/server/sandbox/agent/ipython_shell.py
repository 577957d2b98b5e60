"""The kernel's IPython half, imported only when a cell needs IPython (see `kernel`).

An `InteractiveShell` over the kernel's own namespace, with a display publisher and a
displayhook that hand every mime bundle to the kernel instead of printing it: `display()`,
`display_id` updates and `_repr_mimebundle_` objects come back as results, the value of a
cell's last expression as its main result. Tracebacks go to stderr, `!cmd` runs through
`/bin/sh` with its output on the kernel's own stdout and stderr (so it streams), and IPython
keeps no history file.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets import Type
from traitlets.config import Config

if TYPE_CHECKING:
    from .kernel import Kernel


class CapturingPublisher(DisplayPublisher):  # type: ignore[misc]
    """`display(...)` -> the kernel's results (never the main one)."""

    kernel: Kernel | None = None

    def publish(
        self,
        data: dict[str, object],
        metadata: object = None,
        source: object = None,
        *,
        transient: dict[str, object] | None = None,
        update: bool = False,
        **kwargs: object,
    ) -> None:
        assert self.kernel is not None
        display_id = (transient or {}).get("display_id")
        shown_as = None if display_id is None else str(display_id)
        self.kernel.publish(data, display_id=shown_as, update=update)

    def clear_output(self, wait: bool = False) -> None:
        """Results already sent stay: there is no output area to clear."""


class CapturingDisplayHook(DisplayHook):  # type: ignore[misc]
    """A cell's last expression -> the kernel's main result (no `Out[n]:` printed)."""

    kernel: Kernel | None = None

    def write_output_prompt(self) -> None:
        pass

    def write_format_data(self, format_dict: dict[str, object], md_dict: object = None) -> None:
        assert self.kernel is not None
        self.kernel.publish(format_dict, main=True)

    def finish_displayhook(self) -> None:
        pass


class KernelShell(InteractiveShell):  # type: ignore[misc]
    """IPython as the kernel needs it (see the module docstring)."""

    display_pub_class = Type(CapturingPublisher)
    displayhook_class = Type(CapturingDisplayHook)
    system = InteractiveShell.system_raw

    @classmethod
    def start(cls, kernel: Kernel) -> KernelShell:
        """The shell over `kernel`'s namespace, which keeps everything defined so far."""
        config = Config()
        config.HistoryManager.enabled = False  # no sqlite file, no thread
        config.InteractiveShell.colors = "NoColor"  # tracebacks are read as plain text
        namespace = kernel.namespace
        basic_display = namespace.get("display")
        shell: KernelShell = cls.instance(config=config, user_ns=namespace)
        shell.display_pub.kernel = kernel
        shell.displayhook.kernel = kernel
        if basic_display == kernel.display:
            from IPython.display import display

            namespace["display"] = display
        return shell

    def _showtraceback(self, etype: object, evalue: object, stb: Any) -> None:
        print(self.InteractiveTB.stb2text(stb), file=sys.stderr)

    def enable_gui(self, gui: str | None = None) -> None:
        """`%matplotlib inline` (and agg) need no event loop; a sandbox has no windows."""
        if gui not in (None, "inline"):
            from IPython.core.error import UsageError

            raise UsageError(f"a sandbox has no GUI: use %matplotlib inline, not {gui}")

    def run(self, code: str, count: int) -> str | None:
        """Runs one cell as execution `count`; its short error, or None. The traceback has
        gone to stderr already."""
        self.execution_count = count
        outcome = self.run_cell(code, store_history=True)
        error = outcome.error_before_exec or outcome.error_in_exec
        if error is None:
            return None
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
