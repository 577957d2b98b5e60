"""A batch job: 20 sessions created concurrently with a progress count, work fanned out under
a concurrency bound, every session deleted at the end — also when something fails.

    python examples/batch.py
"""

import asyncio

import anyio

from aioagb import AsyncAGB, AsyncSession, CreateSessionParams, Hooks, SessionEvent

SESSIONS = 20
CONCURRENCY = 8  # back-pressure: never more than 8 requests in flight


async def main() -> None:
    created = 0

    def on_created(event: SessionEvent) -> None:
        nonlocal created
        created += 1
        if created % 5 == 0:
            print(f"created {created}/{SESSIONS}")

    params = CreateSessionParams(image_id="agb-code-space-2", labels={"job": "squares"})
    async with AsyncAGB.local(hooks=Hooks(on_session_created=on_created)) as agb:
        # All or nothing: if one create fails, the others are deleted and SessionBatchError
        # says why. Leaving the block deletes all of them, concurrently.
        async with agb.sessions(params, count=SESSIONS, concurrency=CONCURRENCY) as sessions:
            results = await run_everywhere(sessions)
            print("sum of squares:", sum(results))

            found = [info.session_id async for info in agb.iter_sessions({"job": "squares"})]
            print("found by label:", len(found))
        left = [info async for info in agb.iter_sessions({"job": "squares"})]
        print("left after the block:", len(left))


async def run_everywhere(sessions: list[AsyncSession]) -> list[int]:
    results = [0] * len(sessions)
    limiter = anyio.CapacityLimiter(CONCURRENCY)

    async def square(index: int, session: AsyncSession) -> None:
        async with limiter:
            result = await session.code.run(f"{index} ** 2", "python")
        result.raise_for_error()  # turn a failed result into its typed exception
        results[index] = int(result.result)

    async with anyio.create_task_group() as tg:
        for index, session in enumerate(sessions):
            tg.start_soon(square, index, session)
    return results


if __name__ == "__main__":
    asyncio.run(main())
