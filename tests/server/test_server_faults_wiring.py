"""ServerConfig.faults puts the test-only fault injector in front of AGB Local's routes."""

from __future__ import annotations

from pathlib import Path

from _support.server_app import make_config, start_api
from aioagb import _protocol as p
from aioagb.server.faults import FaultPlan, RouteFaults


async def test_configured_faults_hit_only_their_route(tmp_path: Path) -> None:
    plan = FaultPlan(routes={p.PATH_CREATE_SESSION: RouteFaults(error_rate=1.0, kinds=("429",))})
    api = await start_api(tmp_path, make_config(faults=plan))
    try:
        params = {p.Q_IMAGE_ID: "code_latest"}
        refused = await api.call("POST", p.PATH_CREATE_SESSION, params=params)
        assert refused.status == 429 and refused.body["success"] is False
        assert refused.headers[p.HEADER_REQUEST_ID] == refused.body["requestId"]
        assert api.backend.sandboxes == {}
        listed = await api.call("GET", p.PATH_LIST_SESSIONS)
        assert listed.status == 200
    finally:
        await api.client.close()
