"""Run a small user test suite in a fresh pytest process, with the aioagb plugin as installed.

Each run is its own interpreter: its own event loops, warnings filters and plugin set, as a
user's `pytest` would have. The suite's ini opts in to one async runner explicitly.
"""

from __future__ import annotations

import sys

import pytest

# In every run: warnings are errors, so an unclosed client or an un-awaited coroutine fails.
BASE_INI = """\
[pytest]
filterwarnings = error
"""
# pytest-asyncio warns at start-up (an error here) unless this is set.
ASYNCIO_INI = "asyncio_default_fixture_loop_scope = function\n"

# A user's environment without pytest-asyncio: importing it fails as if it were absent.
WITHOUT_PYTEST_ASYNCIO = """\
import importlib.abc, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] == "pytest_asyncio":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
"""


def run_suite(
    pytester: pytest.Pytester,
    ini: str,
    *args: str,
    without_pytest_asyncio: bool = False,
) -> pytest.RunResult:
    """Run pytest on `pytester.path` with `ini` added to `BASE_INI`, in a new process."""
    argv = ["-p", "no:cacheprovider", "-rA", *args]
    prelude = ""
    if without_pytest_asyncio:
        argv += ["-p", "no:asyncio"]
        prelude = WITHOUT_PYTEST_ASYNCIO
    else:
        ini = ASYNCIO_INI + ini
    pytester.makefile(".ini", pytest=BASE_INI + ini)
    code = f"{prelude}\nimport pytest\nraise SystemExit(pytest.main({argv!r}))"
    return pytester.run(sys.executable, "-c", code, timeout=120)
