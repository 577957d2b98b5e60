"""An aiohttp.web backend: one AsyncAGB for the whole app, and a sandbox for each request —
borrowed from a SessionPool (`POST /run`) or made for the request alone (`POST /run-fresh`).

    python examples/aiohttp_app.py           # starts, sends itself three requests, stops
    python examples/aiohttp_app.py --serve   # serves http://127.0.0.1:8080 until Ctrl-C

    curl -s localhost:8080/run -d '{"code": "6 * 7"}'

It uses AGB Local in-process; for the AGB cloud, use `AsyncAGB()` in `agb_context`.
"""

import asyncio
import json
import sys
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from aioagb import AsyncAGB, CreateSessionParams, SessionPool

PARAMS = CreateSessionParams(image_id="agb-code-space-2", labels={"app": "aiohttp-example"})
AGB = web.AppKey("agb", AsyncAGB)
POOL = web.AppKey("pool", SessionPool)


async def agb_context(app: web.Application) -> AsyncIterator[None]:
    """One client and one pool for the app's lifetime; closing them deletes every session."""
    async with (
        AsyncAGB.local() as agb,
        SessionPool(agb, PARAMS, min_size=1, max_size=8, acquire_timeout=10) as pool,
    ):
        app[AGB] = agb
        app[POOL] = pool
        yield


async def read_code(request: web.Request) -> str:
    """The `code` of a `{"code": "..."}` body; any other body is the client's mistake: a 400
    that says so, not a 500 and a traceback in the server's log."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str):
        error = json.dumps({"error": 'send a JSON body: {"code": "..."}'})
        raise web.HTTPBadRequest(text=error, content_type="application/json")
    return code


async def run_pooled(request: web.Request) -> web.Response:
    code = await read_code(request)
    # A pooled session is warm (no create per request) but shared over time: state left by
    # one request is seen by a later one. Use /run-fresh for untrusted, isolated work.
    async with request.app[POOL].session() as session:
        result = await session.code.run(code, "python", timeout_s=10)
    return web.json_response(
        {"ok": result.success, "result": result.result, "error": result.error_message}
    )


async def run_fresh(request: web.Request) -> web.Response:
    code = await read_code(request)
    # A session of its own, deleted when the handler ends — also when the client disconnects:
    # with handler_cancellation=True (below) aiohttp cancels the handler then.
    async with request.app[AGB].session(PARAMS) as session:
        result = await session.code.run(code, "python", timeout_s=10)
    return web.json_response(
        {"ok": result.success, "result": result.result, "error": result.error_message}
    )


def make_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(agb_context)
    app.router.add_post("/run", run_pooled)
    app.router.add_post("/run-fresh", run_fresh)
    return app


async def self_test() -> None:
    runner = web.AppRunner(make_app(), handler_cancellation=True)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession(f"http://{host}:{port}") as http:
            for path, code in [("/run", "6 * 7"), ("/run", "1 / 0"), ("/run-fresh", "'fresh'")]:
                async with http.post(path, json={"code": code}) as response:
                    print(path, code, "->", await response.json())
            async with http.post("/run", data=b"6 * 7") as response:  # not JSON
                print("a body that is not JSON ->", response.status, await response.json())
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    if "--serve" in sys.argv:
        # Without handler_cancellation, aiohttp lets a handler run on after its client left
        # (and its session live until the code's timeout_s).
        web.run_app(make_app(), host="127.0.0.1", port=8080, handler_cancellation=True)
    else:
        asyncio.run(self_test())
