"""The seed-parity session operations (results, not exceptions) against a real AGB Local."""

from __future__ import annotations

from aioagb import AsyncAGB, CreateSessionParams, Hooks, RequestEvent
from aioagb.server import LocalServer


async def test_create_get_info_status_and_delete(local_server: LocalServer, api_key: str) -> None:
    params = CreateSessionParams(
        image_id="agb-code-space-2", labels={"team": "a b", "ü": "ö"}, idle_release_timeout=120
    )
    requests: list[RequestEvent] = []
    hooks = Hooks(on_request=requests.append)
    async with AsyncAGB(api_key, endpoint=local_server.endpoint, hooks=hooks) as agb:
        await _walk_through(agb, params, local_server, api_key, requests)


async def _walk_through(
    agb: AsyncAGB,
    params: CreateSessionParams,
    local_server: LocalServer,
    api_key: str,
    requests: list[RequestEvent],
) -> None:
    created = await agb.create(params)
    assert created.success and created.request_id
    session = created.session

    got = await agb.get(session.session_id)
    assert got.success and got.session.session_id == session.session_id
    assert got.session.resource_url and got.session.app_instance_id and got.session.resource_id

    detail = await agb.get_session(session.session_id)
    assert detail.success and detail.http_status_code == 200 and detail.code in ("ok", "")

    info = await session.info()
    assert info.success and info.data["session_id"] == session.session_id

    status = await session.get_status()
    assert status.success and status.status == "RUNNING"
    assert (await session.keep_alive()).success
    assert (await session.get_labels()).data == {"team": "a b", "ü": "ö"}

    requests.clear()
    deleted = await agb.delete(session)
    assert deleted.success and deleted.request_id
    # The release-then-poll flow ends at once: AGB Local releases before it answers, so the
    # first status poll already says "not found".
    assert [r.operation for r in requests] == ["releaseSessionAsync", "getSessionInfo"]
    assert local_server.live_sessions(api_key) == 0

    gone = await session.get_status()
    assert not gone.success
    assert not (await agb.get(session.session_id)).success
    after = await session.code.run("print(1)", "python")
    assert not after.success and after.error_message


async def test_list_filters_and_pages(agb: AsyncAGB) -> None:
    dev = {"project": "p1", "env": "dev"}
    prod = {"project": "p1", "env": "prod"}
    sessions = [
        (await agb.create(CreateSessionParams(image_id="code_latest", labels=lab))).session
        for lab in (dev, prod, prod)
    ]
    try:
        everything = await agb.list(labels={"project": "p1"})
        assert everything.total_count == 3
        assert {*everything.session_ids} == {s.session_id for s in sessions}
        only_dev = await agb.list(labels=dev)
        assert only_dev.session_ids == [sessions[0].session_id]
        assert (await agb.list(labels={"project": "none"})).session_ids == []

        page1 = await agb.list(labels={"project": "p1"}, page=1, limit=2)
        page2 = await agb.list(labels={"project": "p1"}, page=2, limit=2)
        assert len(page1.session_ids) == 2 and page1.next_token
        assert len(page2.session_ids) == 1 and page2.next_token == ""
        assert {*page1.session_ids, *page2.session_ids} == {s.session_id for s in sessions}
        beyond = await agb.list(labels={"project": "p1"}, page=3, limit=2)
        assert not beyond.success and "Cannot reach page 3" in beyond.error_message
    finally:
        for session in sessions:
            await agb.delete(session)


async def test_set_labels_replaces(agb: AsyncAGB, params: CreateSessionParams) -> None:
    async with agb.session(params) as session:
        assert (await session.set_labels({"a": "1", "b": "2"})).success
        assert (await session.set_labels({"b": "3"})).success
        assert (await session.get_labels()).data == {"b": "3"}
        assert (await agb.list(labels={"a": "1"})).session_ids == []
        assert (await agb.list(labels={"b": "3"})).session_ids == [session.session_id]
