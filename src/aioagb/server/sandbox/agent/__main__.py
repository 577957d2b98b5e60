"""The agent's entry point: `python -m aioagb_agent` serves the server over stdin/stdout;
`python -m aioagb_agent --kernel REQ_FD REP_FD DIR` is the session's python kernel, when it is
not forked from the agent's zygote (`zygote`), whose kernels return here too.

Each mode imports only what it runs: the kernel starts with every session's first cell."""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> None:
    """Runs the kernel (`--kernel`) or the agent, whose configuration is stdin's first line."""
    if len(argv) >= 4 and argv[0] == "--kernel":
        from .kernel import kernel_main

        kernel_main(int(argv[1]), int(argv[2]), argv[3])
        return
    from . import zygote
    from .config import CONFIG, confine_self

    # The configuration is the first line of stdin, so it never shows up in `ps`.
    CONFIG.load(json.loads(_read_line(0)))
    confine_self(CONFIG)
    # Before any thread starts, and before the agent's own imports (the zygote does not
    # need them, and imports the kernel meanwhile on the other core).
    kernel = zygote.start(CONFIG)
    if kernel is not None:  # this process is a kernel the zygote forked
        from .kernel import kernel_main

        kernel_main(*kernel)
        return
    from .rpc import agent_main

    agent_main()


def _read_line(fd: int) -> bytes:
    out = b""
    while not out.endswith(b"\n"):
        ch = os.read(fd, 1)
        if not ch:
            raise SystemExit("no configuration on stdin")
        out += ch
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
