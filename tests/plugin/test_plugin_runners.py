"""The `aioagb.testing` fixtures in a user's suite, under each async test runner.

pytest-asyncio in strict mode (marked tests, `pytest_asyncio.fixture`), pytest-asyncio in auto
mode, and anyio's plugin (marked, and in auto mode without pytest-asyncio installed): in each,
code runs in `agb_session`, a user's own async fixture builds on it, `agb_session_params` can
be overridden, and after a passing and a failing test AGB Local holds no session and every
client is closed.
"""

from __future__ import annotations

import pytest

from _support.user_suite import run_suite

pytest_plugins = ["pytester"]

# The user's suite. {mark} marks async tests, {fixture} decorates async fixtures.
SUITE = """
import pytest
import pytest_asyncio  # noqa: F401 (the strict-mode fixture decorator)
from aioagb import CreateSessionParams

CREATED = []
CLIENTS = []


{fixture}
async def greeting(agb_session):
    await agb_session.file.write("/tmp/greeting.txt", "hello")
    yield agb_session


{mark}
async def test_code_runs_in_the_session(agb, agb_session):
    CREATED.append(agb_session.session_id)
    CLIENTS.append(agb)
    result = await agb_session.code.run("print(1+1)", "python")
    assert "".join(result.logs.stdout) == "2\\n"


{mark}
async def test_fails_on_purpose(agb_session):
    CREATED.append(agb_session.session_id)
    assert agb_session.session_id == "", "fails on purpose"


{mark}
async def test_a_user_fixture_builds_on_agb_session(greeting):
    CREATED.append(greeting.session_id)
    done = await greeting.command.execute("cat /tmp/greeting.txt")
    assert done.stdout == "hello"


class TestOverriddenParams:
    @pytest.fixture
    def agb_session_params(self):
        return CreateSessionParams(image_id="code_latest", labels={{"suite": "plugin"}})

    {mark}
    async def test_the_session_is_made_from_them(self, agb_session):
        CREATED.append(agb_session.session_id)
        assert agb_session.image_id == "code_latest"
        labels = await agb_session.get_labels()
        assert labels.data == {{"suite": "plugin"}}


def test_every_session_was_deleted_and_every_client_closed(agb_local):
    assert len(CREATED) == len(set(CREATED)) == 4
    assert agb_local.live_sessions() == 0
    assert CLIENTS and all(client.closed for client in CLIENTS)
"""

ANYIO_CONFTEST = """
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"
"""

RUNNERS = {
    "pytest-asyncio-strict": (
        "asyncio_mode = strict\n",
        {"mark": "@pytest.mark.asyncio", "fixture": "@pytest_asyncio.fixture"},
    ),
    "pytest-asyncio-auto": ("asyncio_mode = auto\n", {"mark": "", "fixture": "@pytest.fixture"}),
    "anyio-marked": ("", {"mark": "@pytest.mark.anyio", "fixture": "@pytest.fixture"}),
}


def _expect_one_failure_on_purpose(result: pytest.RunResult) -> None:
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["FAILED *test_fails_on_purpose*fails on purpose*"])
    assert "warning" not in result.stdout.str().lower()


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_fixtures_work_and_clean_up_under(pytester: pytest.Pytester, runner: str) -> None:
    ini, marks = RUNNERS[runner]
    pytester.makeconftest(ANYIO_CONFTEST)
    pytester.makepyfile(test_user=SUITE.format(**marks))
    _expect_one_failure_on_purpose(run_suite(pytester, ini))


def test_fixtures_work_under_anyio_auto_mode_without_pytest_asyncio(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(ANYIO_CONFTEST)
    suite = SUITE.format(mark="", fixture="@pytest.fixture")
    pytester.makepyfile(test_user=suite.replace("import pytest_asyncio", "import sys"))
    result = run_suite(pytester, "anyio_mode = auto\n", without_pytest_asyncio=True)
    _expect_one_failure_on_purpose(result)


def test_a_test_in_a_wider_asyncio_loop_gets_its_client_in_that_loop(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_loops="""
        import asyncio
        import pytest
        import pytest_asyncio

        LOOPS = []

        @pytest_asyncio.fixture(loop_scope="module")
        async def module_loop():
            return asyncio.get_running_loop()

        @pytest.mark.asyncio(loop_scope="module")
        async def test_first(agb_session, module_loop):
            assert asyncio.get_running_loop() is module_loop
            assert (await agb_session.command.execute("echo one")).stdout == "one\\n"

        @pytest.mark.asyncio(loop_scope="module")
        async def test_second(agb, module_loop):
            assert asyncio.get_running_loop() is module_loop
            assert (await agb.list()).success
        """
    )
    run_suite(pytester, "asyncio_mode = strict\n").assert_outcomes(passed=2)


def test_misuse_is_a_clear_setup_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_misuse="""
        import pytest

        def test_a_sync_test(agb):
            pass

        @pytest.mark.anyio
        @pytest.mark.parametrize("anyio_backend", ["trio"])
        async def test_on_trio(agb_session, anyio_backend):
            pass

        @pytest.mark.asyncio
        @pytest.mark.anyio
        @pytest.mark.parametrize("anyio_backend", ["asyncio"])  # whatever else is installed
        async def test_under_both_runners(agb, anyio_backend):
            pass
        """
    )
    result = run_suite(pytester, "asyncio_mode = strict\n")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines_random(
        [
            "*agb is for async tests run by pytest-asyncio*test_a_sync_test is not one*",
            "*agb runs on asyncio*anyio's 'trio' backend*return 'asyncio'*",
            "*run by pytest-asyncio but also uses anyio_backend*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
