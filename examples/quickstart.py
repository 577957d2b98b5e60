"""The first ten minutes: one session, python and a shell command in it, a file, and errors.

Runs against AGB Local started in-process (no account, no network). For the AGB cloud,
replace `AsyncAGB.local()` with `AsyncAGB()` and set AGB_API_KEY.

    python examples/quickstart.py
"""

import asyncio

from aioagb import AsyncAGB, CreateSessionParams


async def main() -> None:
    async with AsyncAGB.local() as agb:
        params = CreateSessionParams(image_id="agb-code-space-2", labels={"example": "quickstart"})
        # The session is deleted when the block ends: normally, on an exception, on cancel.
        async with agb.session(params) as session:
            print("session", session.session_id)

            # Python runs in a stateful kernel: variables survive between calls.
            await session.code.run("prices = [3, 5, 8]", "python")
            result = await session.code.run("sum(prices) / len(prices)", "python")
            print("mean price:", result.result)

            # Seed-parity methods return results; they do not raise for a failure.
            failed = await session.code.run("1 / 0", "python")
            print("failed as expected:", failed.success is False, "-", failed.error_message)

            # A shell command may run 1000 ms unless told otherwise (the official SDK's
            # default); past it, it fails: "command timed out after 1000 ms; raise timeout_ms".
            done = await session.command.execute("echo hello from $(uname -s)", timeout_ms=5000)
            print(done.stdout.strip(), "| exit code", done.exit_code)

            await session.file.write("notes/todo.txt", "buy milk\n")
            read = await session.file.read("notes/todo.txt")
            print("file says:", read.content.strip())


if __name__ == "__main__":
    asyncio.run(main())
