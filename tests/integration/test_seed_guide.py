"""Every Python example of the official session guide (docs/session/*.md of agbcloud-sdk),
with `AGB` replaced by `AsyncAGB` and `await` added — and nothing else changed — runs
against AGB Local. Around each example the test checks what the example claims.

The examples read `AGB_API_KEY` and `AGB_ENDPOINT` from the environment, as the guide's do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aioagb import AsyncAGB, AsyncSession, CreateSessionParams
from aioagb import _protocol as p
from aioagb.server import LocalServer


@pytest.fixture(autouse=True)
def _environment(local_server: LocalServer, api_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(p.ENV_API_KEY, api_key)
    monkeypatch.setenv(p.ENV_ENDPOINT, local_server.endpoint)


@pytest.fixture
async def agb() -> AsyncIterator[AsyncAGB]:
    client = AsyncAGB()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def session(agb: AsyncAGB) -> AsyncIterator[AsyncSession]:
    result = await agb.create(CreateSessionParams(image_id="agb-code-space-1"))
    assert result.success, result.error_message
    try:
        yield result.session
    finally:
        await agb.delete(result.session)


async def test_overview_quickstart_runs_code_and_deletes_its_session(
    local_server: LocalServer, api_key: str
) -> None:
    # --- docs/session/overview.md, "Quickstart" ---
    agb = AsyncAGB()
    create_result = await agb.create(CreateSessionParams(image_id="agb-code-space-1"))
    if not create_result.success:
        raise SystemExit(f"Session creation failed: {create_result.error_message}")

    session = create_result.session
    run = await session.code.run("print('Hello from AGB')", "python")
    await agb.delete(session)
    # ---
    await agb.aclose()
    assert run.success and "Hello from AGB" in "".join(run.logs.stdout)
    assert local_server.live_sessions(api_key) == 0


async def test_lifecycle_basic_usage_keeps_the_session_alive_then_deletes_it(
    local_server: LocalServer, api_key: str
) -> None:
    # --- docs/session/lifecycle.md, "Basic usage" ---
    agb = AsyncAGB()

    # Create session with 5-minute idle timeout
    session = (
        await agb.create(
            CreateSessionParams(
                image_id="agb-code-space-1",
                idle_release_timeout=300,
            )
        )
    ).session

    # Any API call resets the idle timer
    await session.code.run("print('Hello')", "python")

    # Explicitly reset timer without other operations
    kept = await session.keep_alive()

    # Clean up when done
    await agb.delete(session)
    # ---
    await agb.aclose()
    assert kept.success
    assert local_server.live_sessions(api_key) == 0


async def test_lifecycle_manual_deletion_in_finally_leaves_no_live_session(
    agb: AsyncAGB, local_server: LocalServer, api_key: str
) -> None:
    session = (await agb.create(CreateSessionParams(image_id="agb-code-space-1"))).session
    # --- docs/session/lifecycle.md, "Manual deletion" ---
    try:
        # Your workflow
        await session.code.run("print('Working')", "python")
    finally:
        await agb.delete(session)
    # ---
    assert local_server.live_sessions(api_key) == 0


async def test_lifecycle_keep_alive_on_a_released_session_reports_not_found(agb: AsyncAGB) -> None:
    session = (await agb.create(CreateSessionParams(image_id="agb-code-space-1"))).session
    await agb.delete(session)
    printed = []
    # --- docs/session/lifecycle.md, "Handle failures gracefully" (on a released session) ---
    result = await session.keep_alive()
    if not result.success:
        printed.append(f"Failed: {result.error_message}")
        # Create new session if needed
    # ---
    assert printed and "not found" in printed[0].lower()


async def test_labels_set_on_create_filter_the_list_and_set_labels_replaces_them(
    agb: AsyncAGB,
) -> None:
    # --- docs/session/labels.md, "Set labels on creation" ---
    session = (
        await agb.create(
            CreateSessionParams(
                image_id="agb-code-space-1",
                labels={"project": "demo", "environment": "testing", "team": "backend"},
            )
        )
    ).session
    # ---
    try:
        assert (await session.get_labels()).data == {
            "project": "demo",
            "environment": "testing",
            "team": "backend",
        }
        # --- "Filter sessions by labels" ---
        result = await agb.list(labels={"project": "demo"})
        if result.success:
            print(f"Found {len(result.session_ids)} sessions")
        # ---
        assert result.session_ids == [session.session_id]

        # --- "Update labels after creation" ---
        result = await session.set_labels({"project": "demo", "environment": "production"})
        if result.success:
            print("Labels updated")
        # ---
        assert result.success

        # --- "Get current labels" (and the quickstart's get) ---
        result = await session.get_labels()
        if result.success:
            print("Current labels:", result.data)
        # ---
        # set_labels replaces the whole set: "team" is gone.
        assert result.data == {"project": "demo", "environment": "production"}
    finally:
        await agb.delete(session)


async def test_list_pages_ten_by_default_page_two_has_the_rest_and_labels_filter(
    agb: AsyncAGB,
) -> None:
    labels = {"project": "demo", "environment": "testing"}
    created = [
        (await agb.create(CreateSessionParams(image_id="agb-code-space-1", labels=labels))).session
        for _ in range(12)
    ]
    try:
        # --- docs/session/list.md, "Quickstart" ---
        result = await agb.list()

        if result.success:
            print("Total sessions:", result.total_count)
            for session_id in result.session_ids:
                print("Session ID:", session_id)
        # ---
        assert result.success and result.total_count == 12
        assert len(result.session_ids) == 10  # the default page size
        first_page = list(result.session_ids)

        # --- "Paginate results" ---
        result = await agb.list(page=2, limit=10)
        if result.success:
            print("Total:", result.total_count)
            print("Next token:", result.next_token)
        # ---
        assert result.total_count == 12 and result.next_token == ""
        assert set(first_page) | set(result.session_ids) == {s.session_id for s in created}

        # --- "Filter by labels" ---
        result = await agb.list(labels={"project": "demo", "environment": "testing"})
        if result.success:
            for session_id in result.session_ids:
                print("Session ID:", session_id)
        # ---
        assert result.total_count == 12
    finally:
        for session in created:
            await agb.delete(session)


async def test_info_returns_the_session_id_and_a_resource_url(session: AsyncSession) -> None:
    seen = {}
    # --- docs/session/info.md, "Quickstart" ---
    info_result = await session.info()
    if info_result.success:
        data = info_result.data
        print("Session ID:", data.get("session_id"))
        print("Resource URL:", data.get("resource_url"))
        # ---
        seen = dict(data)
    assert seen["session_id"] == session.session_id
    assert seen["resource_url"]
