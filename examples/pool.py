"""A SessionPool: 30 jobs share at most 4 warm sessions, handed out first come, first served.

python examples/pool.py
"""

import asyncio

import anyio

from aioagb import AsyncAGB, CreateSessionParams, SessionPool

JOBS = 30


async def main() -> None:
    params = CreateSessionParams(image_id="agb-code-space-2")
    async with (
        AsyncAGB.local() as agb,
        SessionPool(agb, params, min_size=2, max_size=4, max_uses=10, acquire_timeout=30) as pool,
    ):
        outputs: list[str] = []

        async def job(n: int) -> None:
            # Waits for a free session when all 4 are busy. If the body raises, the session
            # is deleted (its state is unknown) and replaced; otherwise it goes back.
            async with pool.session() as session:
                done = await session.command.execute(f"echo job {n}", timeout_ms=5000)
                outputs.append(done.stdout.strip())

        async with anyio.create_task_group() as tg:
            for n in range(JOBS):
                tg.start_soon(job, n)

        stats = pool.stats()
        print(f"{len(outputs)} jobs done; sessions created: {stats.created} (max 4 at once)")
        print(f"recycled after max_uses: {stats.recycled}; idle now: {stats.idle}")
    # Leaving the pool deleted every session it held.


if __name__ == "__main__":
    asyncio.run(main())
