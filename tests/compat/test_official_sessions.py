"""The official SDK's session API against AGB Local: create, get, info, list, labels,
keep-alive, status and delete."""

from __future__ import annotations

import time
import uuid

from agb import AGB
from agb.session import Session

from _support.official_sdk import IMAGE, create


def test_create_with_labels_get_and_info(agb: AGB) -> None:
    session = create(agb, labels={"project": "compat", "env": "dev"}, idle_release_timeout=120)
    try:
        assert session.session_id and session.image_id == IMAGE
        got = agb.get(session.session_id)
        assert got.success, got.error_message
        assert got.session.session_id == session.session_id
        assert got.session.app_instance_id and got.session.resource_id
        assert "resourceId=" in got.session.resource_url
        raw = agb.get_session(session.session_id)
        assert raw.success and raw.http_status_code == 200 and raw.code in ("ok", "")
        assert raw.request_id
        info = session.info()
        assert info.success, info.error_message
        assert info.data["session_id"] == session.session_id and info.data["resource_url"]
        labels = session.get_labels()
        assert labels.success and labels.data == {"project": "compat", "env": "dev"}
        status = session.get_status()
        assert status.success and status.status == "RUNNING"
    finally:
        assert session.delete().success


def test_get_of_unknown_and_blank_ids_fails(agb: AGB) -> None:
    missing = agb.get("session-does-not-exist")
    assert not missing.success and "Failed to get session" in missing.error_message
    assert not agb.get("  ").success


def test_create_with_an_unknown_image_fails_cleanly(agb: AGB) -> None:
    from agb.session_params import CreateSessionParams

    result = agb.create(CreateSessionParams(image_id="no-such-image"))
    assert not result.success and "no-such-image" in result.error_message


def test_list_with_label_filters_and_pages(agb: AGB) -> None:
    run = uuid.uuid4().hex[:8]
    sessions = [create(agb, labels={"run": run, "env": env}) for env in ("dev", "prod", "prod")]
    ids = [s.session_id for s in sessions]
    try:
        everything = agb.list(labels={"run": run})
        assert everything.success and sorted(everything.session_ids) == sorted(ids)
        assert everything.total_count == 3
        dev = agb.list(labels={"run": run, "env": "dev"})
        assert dev.session_ids == [ids[0]]
        assert agb.list(labels={"run": run, "env": "test"}).session_ids == []
        first = agb.list(labels={"run": run}, page=1, limit=2)
        assert len(first.session_ids) == 2 and first.next_token
        second = agb.list(labels={"run": run}, page=2, limit=2)
        assert second.success and len(second.session_ids) == 1 and second.next_token == ""
        beyond = agb.list(labels={"run": run}, page=3, limit=2)
        assert not beyond.success and "No more pages" in beyond.error_message
        # The official integration test's page loop: follow tokens until one is empty.
        seen: list[str] = []
        page = 1
        while True:
            result = agb.list(labels={"run": run}, page=page, limit=2)
            assert result.success, result.error_message
            seen += result.session_ids
            if not result.next_token:
                break
            page += 1
        assert sorted(seen) == sorted(ids)
        assert agb.list().success  # labels=None
    finally:
        for session in sessions:
            session.delete()


def test_set_labels_replaces_the_whole_set(session: Session) -> None:
    assert session.set_labels({"a": "1", "b": "two words"}).success
    assert session.get_labels().data == {"a": "1", "b": "two words"}
    assert session.set_labels({"c": "3"}).success
    assert session.get_labels().data == {"c": "3"}


def test_keep_alive_succeeds_and_the_status_is_running(session: Session) -> None:
    assert session.keep_alive().success
    assert session.get_status().status == "RUNNING"


def test_delete_succeeds_and_the_session_is_gone_after(agb: AGB) -> None:
    """§3.7: AGB Local releases before it answers, so the official client's first status
    poll (sent at once; the next would be 1 s later) already finds the session gone."""
    session = create(agb)
    assert session.command.execute("echo warm", timeout_ms=20_000).success
    result = session.delete()
    assert result.success, result.error_message
    status = session.get_status()
    assert not status.success and "not found" in status.error_message.lower()
    assert not agb.get(session.session_id).success
    revived = Session(agb, session.session_id)
    ran = revived.code.run("print(1)", "python")
    assert not ran.success and ran.error_message
    wrote = revived.file.write("/workspace/x.txt", "x")
    assert not wrote.success and wrote.error_message
    again = agb.delete(session)
    assert not again.success


def test_idle_session_is_released_while_a_kept_alive_one_stays(agb: AGB) -> None:
    idle = create(agb, idle_release_timeout=1)
    kept = create(agb, idle_release_timeout=1)
    try:
        # Like the official idle-release test: only get_status() is polled on `idle`.
        statuses = []
        for _ in range(6):
            time.sleep(0.4)
            assert kept.keep_alive().success
            statuses.append(idle.get_status())
        assert statuses[0].success and statuses[0].status == "RUNNING"
        last = statuses[-1]
        assert not last.success and "not found" in last.error_message.lower()
        assert kept.get_status().status == "RUNNING"
    finally:
        kept.delete()


def test_list_mcp_tools_names_the_core_tools_and_unknown_tools_fail(session: Session) -> None:
    tools = session.list_mcp_tools()
    assert tools.success, tools.error_message
    names = {tool.name for tool in tools.tools}
    assert {"run_code", "shell", "read_file", "write_file"} <= names
    assert all(tool.description for tool in tools.tools)
    unknown = session.call_mcp_tool("no_such_tool", {})
    assert not unknown.success and unknown.error_message
