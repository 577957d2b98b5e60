"""Every script in examples/ runs to the end, as a user would run it, and prints what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"

# What each example must print: a new example without an entry here fails the test.
EXPECTED = {
    "quickstart.py": ["mean price: 5.333", "failed as expected: True", "file says: buy milk"],
    "batch.py": [
        "created 20/20",
        "sum of squares: 2470",
        "found by label: 20",
        "left after the block: 0",
    ],
    "pool.py": ["30 jobs done"],
    "aiohttp_app.py": [
        "/run 6 * 7 -> {'ok': True, 'result': '42'",
        "ZeroDivisionError",
        "/run-fresh 'fresh' -> {'ok': True",
        # Users copy examples: a bad body is a 400 that says what to send, not a 500.
        """a body that is not JSON -> 400 {'error': 'send a JSON body: {"code": "..."}'}""",
    ],
    "fastapi_app.py": [
        "/run 6 * 7 -> 200 {'ok': True, 'result': '42'",
        "/run 1 / 0 -> 200 {'ok': False, 'result': '', 'error': 'ZeroDivisionError",
        "/run-isolated 'fresh' -> 200 {'ok': True",
        "a body that is not JSON -> 422",
    ],
    "agent_loop.py": ["NameError", "alice: The mean is 2.5.", "bob: The mean is 15."],
    "persistent_agent.py": [
        "this run found 2 earlier note(s)",
        "notes: ['run 1 was here', 'run 2 was here', 'run 3 was here']",
    ],
    "browser.py": [
        "title: Hello from the sandbox",
        "screenshot: True",
        "through the link: 200 True",
        "cookie kept: [('visits', '1')]",
    ],
    "observability.py": [
        "live sessions while working: 3",
        "live sessions afterwards: 0",
        "createSession        n= 3",
    ],
}


def test_every_example_has_expectations() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # no .env or stray files of the checkout
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for text in EXPECTED[name]:
        assert text in done.stdout, (text, done.stdout)
    assert "Traceback" not in done.stderr
