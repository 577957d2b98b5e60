"""`async with agb.session(params)` deletes the session on every way out of the block, and the
async-native API raises typed errors, against a real AGB Local."""

from __future__ import annotations

import anyio
import pytest

from aioagb import AsyncAGB, CreateSessionParams
from aioagb.errors import AGBError, AuthenticationError, ClientClosedError, SessionCreateError
from aioagb.server import LocalServer


class BodyError(Exception):
    pass


async def test_normal_exit_deletes(
    agb: AsyncAGB, params: CreateSessionParams, local_server: LocalServer, api_key: str
) -> None:
    async with agb.session(params) as session:
        assert local_server.live_sessions(api_key) == 1
        assert (await session.get_status()).status == "RUNNING"
    assert local_server.live_sessions(api_key) == 0


async def test_body_exception_propagates_unchanged_and_the_session_is_deleted(
    agb: AsyncAGB, params: CreateSessionParams, local_server: LocalServer, api_key: str
) -> None:
    error = BodyError("from the body")
    with pytest.raises(BodyError) as caught:
        async with agb.session(params):
            raise error
    assert caught.value is error
    assert local_server.live_sessions(api_key) == 0


async def test_cancelled_body_deletes(
    agb: AsyncAGB, params: CreateSessionParams, local_server: LocalServer, api_key: str
) -> None:
    with anyio.move_on_after(0.5) as scope:
        async with agb.session(params) as session:
            await session.command.execute("sleep 5", timeout_ms=10_000)
    assert scope.cancelled_caught
    assert local_server.live_sessions(api_key) == 0


async def test_cancelled_while_creating_leaves_nothing(
    agb: AsyncAGB, params: CreateSessionParams, local_server: LocalServer, api_key: str
) -> None:
    for delay in (0.0, 0.001, 0.003, 0.01):
        with anyio.move_on_after(delay):
            async with agb.session(params):
                await anyio.sleep_forever()
    assert local_server.live_sessions(api_key) == 0


async def test_create_failures_raise_typed_errors(agb: AsyncAGB, local_server: LocalServer) -> None:
    with pytest.raises(SessionCreateError) as caught:
        async with agb.session(CreateSessionParams(image_id="no-such-image")):
            pass
    assert caught.value.request_id
    assert "image" in str(caught.value).lower()

    async with AsyncAGB(api_key="wrong-key", endpoint=local_server.endpoint) as stranger:
        with pytest.raises(AuthenticationError) as denied:
            async with stranger.session(CreateSessionParams(image_id="agb-code-space-2")):
                pass
        assert "wrong-key" not in str(denied.value)
        assert "wrong-key" not in repr(stranger)


async def test_seed_methods_return_failures_instead_of_raising(
    agb: AsyncAGB, local_server: LocalServer
) -> None:
    result = await agb.create(CreateSessionParams(image_id="no-such-image"))
    assert not result.success and result.error_message and result.request_id
    missing = await agb.get("session-does-not-exist")
    assert not missing.success and "Failed to get session" in missing.error_message


async def test_a_closed_client_refuses_calls(
    local_server: LocalServer, api_key: str, params: CreateSessionParams
) -> None:
    agb = AsyncAGB(api_key=api_key, endpoint=local_server.endpoint)
    await agb.list()
    await agb.aclose()
    with pytest.raises(ClientClosedError):
        await agb.list()
    with pytest.raises(AGBError):
        async with agb.session(params):
            pass


async def test_open_session_starts_a_session_and_aclose_deletes_it_idempotently(
    agb: AsyncAGB, params: CreateSessionParams, local_server: LocalServer, api_key: str
) -> None:
    session = await agb.open_session(params)
    assert local_server.live_sessions(api_key) == 1
    await session.aclose()
    await session.aclose()  # idempotent
    assert local_server.live_sessions(api_key) == 0
