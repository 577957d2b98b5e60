"""The per-key quota of live sessions: back-pressure the client can see."""

from __future__ import annotations

from pathlib import Path

from _support.server_app import KEY_A, KEY_B, assert_error, make_config, start_api
from aioagb import _protocol as p
from aioagb.server.envelope import CODE_SESSION_QUOTA


async def test_creates_past_the_quota_get_429_and_release_frees_a_slot(tmp_path: Path) -> None:
    api = await start_api(tmp_path, make_config(max_sessions_per_key=2))
    try:
        first = await api.create()
        await api.create()
        refused = await api.call(
            "POST", p.PATH_CREATE_SESSION, params={p.Q_IMAGE_ID: "agb-code-space-2"}
        )
        assert_error(refused, 429, CODE_SESSION_QUOTA)
        assert "at most 2 live sessions" in refused.body["message"]
        assert len(api.backend.sandboxes) == 2  # the refused create made no sandbox

        # The quota is per key: another tenant is not affected.
        await api.create(key=KEY_B)

        released = await api.call(
            "POST", p.PATH_RELEASE_ASYNC, body={p.B_SESSION_ID: first}, key=KEY_A
        )
        assert released.status == 200
        await api.create()  # the slot is free again
    finally:
        await api.client.close()
