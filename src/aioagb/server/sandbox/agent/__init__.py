"""The per-session agent of AGB Local: runs *inside* the session's sandbox.

Standard library only, and compatible with the system Python (``/usr/bin/python3``): the
server's own interpreter and site-packages are not visible inside the sandbox. The server copies
this package into its runtime directory as ``aioagb_agent`` (a name no user module takes) and
starts one agent per session (lazily, on the first call that needs a process) with
``python3 -E -s -u -m aioagb_agent`` from the package's parent directory. It talks to the agent
with one JSON object per line over stdin/stdout:

    request:  {"id": 7, "op": "shell", ...arguments...}
    reply:    {"id": 7, "ok": true, "result": ...}
              {"id": 7, "ok": false, "kind": "file" | "unavailable" | "internal", "error": "..."}

Requests are served concurrently, each in its own thread (``rpc``); python cells are serialised
on the session's kernel. The kernel is a child process (``kernel``, driven by ``kernel_host``),
forked from the agent's ``zygote`` or else this same package started with ``--kernel``, so a
runaway cell can be interrupted, or killed and restarted, without losing the agent.

File operations (``files``) run here, as the session's uid and, under bubblewrap, inside the
session's mount namespace, so paths resolve in the sandbox's view. They are confined to the
session's roots (``/workspace`` and ``/tmp``) after resolving symlinks. In the "plain" fallback
the roots are host directories and the agent maps the sandbox paths onto them (``config``).
"""
