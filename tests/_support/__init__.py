"""The test suite's shared helpers: one package, imported as `_support.<module>` (pytest puts
tests/ on `sys.path` through `pythonpath` in pyproject.toml; scripts/soak.py does the same).

Fixtures stay in the conftest.py of the directory that uses them; the code behind them lives
here. This file imports nothing: some tests check what the SDK alone loads.

- `mock_wire`: the SDK core's unit tests (tests/unit) - a scripted fake server on aioagb's
  `MockTransport` (`Wire`), envelopes and a client on it; no network.
- `fake_sandbox`: an in-process stand-in for the sandbox backend (real files in a temporary
  directory, python in-process, shell via `sh -c`); it isolates nothing, it lets the HTTP
  layer and the fault scenario run without the real backend.
- `server_app`: AGB Local's app on aiohttp's test server with the fake backend, and `Api`,
  which sends requests the way the official client does (tests/server).
- `server_contexts`: contexts over the HTTP layer - make them, move files through
  pre-signed URLs, mount them in sessions, build sync policies (tests/server).
- `raw_connections`: raw HTTP/1.1 connections to a running `LocalServer` from a chosen
  loopback address, exactly the bytes a test sends (tests/server connection and stop tests).
- `security`: a real AGB Local in a thread or an `aioagb serve` process, a raw client that
  can send any bytes, the envelope check, a well-formed client working throughout
  (tests/security).
- `context_wire`: the protocol's context calls, raw, as the official client sends them
  (tests/security).
- `concurrency`: AGB Local with fault plans in the test's loop, clients on it, a counting
  transport (tests/concurrency).
- `fault_scenario`: the reliability scenario (10% faults, cancellations, `create_many` and a
  `SessionPool`; nothing may leak or repeat) - tests/faults and scripts/soak.py.
- `cli`: the `aioagb` command run in-process against a test server (tests/cli).
- `official_sdk`: driving the official agbcloud-sdk against AGB Local (tests/compat).
- `docs_site`: build the documentation site, load the mkdocs hooks by path (tests/docs).
- `user_suite`: run a small user test suite in a fresh pytest process with the aioagb plugin
  (tests/plugin).
"""
