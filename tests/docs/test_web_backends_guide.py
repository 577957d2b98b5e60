"""docs/guides/web-backends.md's testing recipe passes as written, against the FastAPI example
it tests (examples/fastapi_app.py), in a user's own pytest run with the aioagb plugin."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parents[2]
GUIDE = ROOT / "docs" / "guides" / "web-backends.md"
RECIPE = re.compile(r"```python\n# test_app\.py\n(.*?)```", flags=re.S)
INI = """\
[pytest]
filterwarnings = error
asyncio_default_fixture_loop_scope = function
"""


def test_the_guide_s_testing_recipe_passes(pytester: pytest.Pytester) -> None:
    [recipe] = RECIPE.findall(GUIDE.read_text())
    pytester.makepyfile(
        test_app=recipe, fastapi_app=(ROOT / "examples" / "fastapi_app.py").read_text()
    )
    pytester.makefile(".ini", pytest=INI)
    code = "import pytest; raise SystemExit(pytest.main(['-p', 'no:cacheprovider', '-rA']))"
    result = pytester.run(sys.executable, "-c", code, timeout=120)
    result.assert_outcomes(passed=1)
