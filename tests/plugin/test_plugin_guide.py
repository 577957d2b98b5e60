"""docs/guides/testing.md runs as written: its example files, put together, are a user's suite.

Every python block of the guide that starts with a file name comment (`# test_x.py`,
`# conftest.py`) goes into that file (blocks naming the same file are joined), and the suite
runs with pytest-asyncio and anyio both in strict mode, as marked tests need.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from _support.user_suite import run_suite

pytest_plugins = ["pytester"]

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "testing.md"
FILE_BLOCK = re.compile(r"```python\n# (\w+\.py)\n(.*?)```", flags=re.S)
TEST = re.compile(r"^\s*(?:async )?def test_", flags=re.M)


def guide_files() -> dict[str, str]:
    """The guide's example files, by name."""
    files: dict[str, str] = {}
    for name, code in FILE_BLOCK.findall(GUIDE.read_text()):
        files[name] = files.get(name, "") + code + "\n"
    return files


def test_the_guide_has_examples_for_both_runners() -> None:
    files = guide_files()
    assert {"conftest.py", "test_with_pytest_asyncio.py", "test_with_anyio.py"} <= set(files)


def test_the_guides_examples_pass(pytester: pytest.Pytester) -> None:
    files = guide_files()
    for name, code in files.items():
        pytester.makepyfile(**{name.removesuffix(".py"): code})
    tests = sum(len(TEST.findall(code)) for code in files.values())
    parametrized = 1  # test_on_each_image runs once per image (two)
    result = run_suite(pytester, "asyncio_mode = strict\n")
    result.assert_outcomes(passed=tests + parametrized)
