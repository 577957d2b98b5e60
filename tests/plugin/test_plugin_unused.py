"""A project that never asks for the fixtures: the plugin is loaded (installing aioagb
registers it) and changes nothing, does not import AGB Local (nor aiohttp's web framework),
and leaves the project's own fixtures of the same names alone."""

from __future__ import annotations

import pytest

from _support.user_suite import run_suite

pytest_plugins = ["pytester"]

UNRELATED_SUITE = """
import sys
import pytest

def test_the_plugin_is_registered_and_imported_nothing_heavy(request):
    assert request.config.pluginmanager.has_plugin("aioagb")
    loaded = [m for m in sys.modules if m.startswith(("aioagb.server", "aiohttp.web"))]
    assert loaded == []

@pytest.fixture
def agb():
    return "the project's own agb"

def test_a_project_fixture_named_agb_wins(agb):
    assert agb == "the project's own agb"

@pytest.mark.asyncio
async def test_an_asyncio_test():
    assert 1 + 1 == 2

@pytest.mark.anyio
async def test_an_anyio_test():
    assert 1 + 1 == 2
"""

ANYIO_CONFTEST = """
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_a_project_that_does_not_use_the_plugin_runs_as_before(
    pytester: pytest.Pytester, mode: str
) -> None:
    pytester.makeconftest(ANYIO_CONFTEST)
    pytester.makepyfile(test_unrelated=UNRELATED_SUITE)
    result = run_suite(pytester, f"asyncio_mode = {mode}\n")
    result.assert_outcomes(passed=4)
    assert "warning" not in result.stdout.str().lower()
