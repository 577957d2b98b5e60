"""Which languages this machine can run in its sandboxes, and the programs that run them.

Python always (the agent's own interpreter, or the `--python` venv); javascript with node;
java with a JDK (the single-file source launcher needs its compiler, so a JRE alone is not
enough); r with Rscript. Under bubblewrap a program counts only where the sandbox can see
it, under /usr.
"""

from __future__ import annotations

import os
import shutil

import attrs

SEARCH_PATH = "/usr/local/bin:/usr/bin:/bin"


@attrs.frozen
class Runtimes:
    """The programs behind each language other than python (None: not available)."""

    node: str | None = None
    java: str | None = None
    rscript: str | None = None

    @property
    def languages(self) -> tuple[str, ...]:
        """The canonical languages they make available, python first."""
        available = {"javascript": self.node, "java": self.java, "r": self.rscript}
        return ("python", *(name for name, program in available.items() if program))


def find_runtimes(mode: str) -> Runtimes:
    """What `mode` ("bwrap" or "plain") sandboxes can run here."""
    java = _find("java", mode)
    if java is not None and _find("javac", mode) is None:
        java = None  # a JRE cannot compile the cell
    return Runtimes(node=_find("node", mode), java=java, rscript=_find("Rscript", mode))


def _find(name: str, mode: str) -> str | None:
    found = shutil.which(name, path=SEARCH_PATH)
    if found is None:
        return None
    real = os.path.realpath(found)
    if mode == "bwrap" and not real.startswith("/usr/"):
        return None  # not visible inside the sandbox
    return real
