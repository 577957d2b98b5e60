"""A FastAPI backend: one AsyncAGB per worker process, made in the app's lifespan, and a
sandbox for each request — borrowed from a SessionPool (`POST /run`) or made for the request
alone (`POST /run-isolated`).

    python examples/fastapi_app.py              # runs the app in-process, sends it requests
    cd examples && uvicorn fastapi_app:app      # serves it (pip install fastapi uvicorn)

    curl -s localhost:8000/run -H 'content-type: application/json' -d '{"code": "6 * 7"}'

It uses AGB Local in-process; for the AGB cloud, build the app with
`create_app(connect=AsyncAGB)` (the key from AGB_API_KEY). Tests hand it a client of their own
the same way (docs/guides/web-backends.md, "Testing the app").
"""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated

import anyio
import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from aioagb import AsyncAGB, AsyncSession, CreateSessionParams, PoolTimeoutError, SessionPool

PARAMS = CreateSessionParams(image_id="agb-code-space-2", labels={"app": "fastapi-example"})
# What makes the app's client: `AsyncAGB.local` (an embedded AGB Local), `AsyncAGB` (the cloud)
# or, in tests, a client bound to the test's own server.
Connect = Callable[[], AbstractAsyncContextManager[AsyncAGB]]

router = APIRouter()


class Snippet(BaseModel):
    code: str


class Outcome(BaseModel):
    ok: bool
    result: str
    error: str


def the_pool(request: Request) -> SessionPool:
    pool: SessionPool = request.app.state.pool
    return pool


async def fresh_session(request: Request) -> AsyncIterator[AsyncSession]:
    agb: AsyncAGB = request.app.state.agb
    async with agb.session(PARAMS) as session:
        yield session  # deleted when the request is done with it


@router.post("/run")
async def run_pooled(snippet: Snippet, pool: Annotated[SessionPool, Depends(the_pool)]) -> Outcome:
    # A pooled session is warm (no create per request) but shared over time: state left by
    # one request is seen by a later one. Use /run-isolated for untrusted, isolated work.
    async with pool.session() as session:
        result = await session.code.run(snippet.code, "python", timeout_s=10)
    return Outcome(ok=result.success, result=result.result, error=result.error_message)


@router.post("/run-isolated")
async def run_isolated(
    snippet: Snippet, session: Annotated[AsyncSession, Depends(fresh_session)]
) -> Outcome:
    # Starlette does not cancel a handler whose client left: timeout_s bounds how long this
    # session can outlive its request.
    result = await session.code.run(snippet.code, "python", timeout_s=10)
    return Outcome(ok=result.success, result=result.result, error=result.error_message)


async def all_busy(request: Request, exc: Exception) -> JSONResponse:
    """Every pooled session stayed busy for `acquire_timeout`: back-pressure, not a crash."""
    headers = {"Retry-After": "1"}
    return JSONResponse({"detail": "all sandboxes are busy"}, status_code=503, headers=headers)


def create_app(connect: Connect = AsyncAGB.local) -> FastAPI:
    """The app; its lifespan holds one client and one pool and deletes their sessions."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            connect() as agb,
            SessionPool(agb, PARAMS, min_size=1, max_size=8, acquire_timeout=10) as pool,
        ):
            app.state.agb = agb
            app.state.pool = pool
            yield

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    app.add_exception_handler(PoolTimeoutError, all_busy)
    return app


app = create_app()  # what `uvicorn fastapi_app:app` serves


async def self_test() -> None:
    """The app in-process: its lifespan entered by hand, requests over httpx's ASGI transport
    (which does not run the lifespan itself)."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http,
    ):
        for path, code in [("/run", "6 * 7"), ("/run", "1 / 0"), ("/run-isolated", "'fresh'")]:
            response = await http.post(path, json={"code": code})
            print(path, code, "->", response.status_code, response.json())
        response = await http.post("/run", content=b"6 * 7")  # not JSON: FastAPI answers 422
        print("a body that is not JSON ->", response.status_code)


if __name__ == "__main__":
    anyio.run(self_test)
