"""An agent that remembers: each run is a fresh sandbox, and its notes survive because they
live in a context mounted at /home/user/memory.

Three runs, one after another. Each starts with the files the previous ones saved (create
waits for them), reads its memory, does its step, writes the memory back, and leaves; leaving
`agb.session()` uploads the mount before the session is deleted. At the end the notes are
fetched to this machine without any session.

    python examples/persistent_agent.py
"""

import asyncio
import json
import tempfile
from pathlib import Path

from aioagb import AsyncAGB, ContextSync, CreateSessionParams, SyncPolicy

MEMORY = "/home/user/memory"  # the mount: what is written under it is kept
STEP = f"""
import json, pathlib
path = pathlib.Path("{MEMORY}/notes.json")
notes = json.loads(path.read_text()) if path.exists() else []
notes.append(f"run {{len(notes) + 1}} was here")
path.write_text(json.dumps(notes))
print(len(notes))
"""


async def run_once(agb: AsyncAGB, context_id: str) -> int:
    params = CreateSessionParams(
        image_id="agb-code-space-2",
        context_syncs=[ContextSync.new(context_id, MEMORY, SyncPolicy())],
    )
    async with agb.session(params) as session:  # starts with the context's files
        result = await session.code.run(STEP, "python")
        result.raise_for_error()
        return int(result.logs.stdout[0])
    # left the block: /home/user/memory was uploaded to the context, then the session deleted


async def main() -> None:
    async with AsyncAGB.local() as agb:
        memory = await agb.context.create("agent-alice")  # the same context on every run
        memory.raise_for_error()
        for _ in range(3):
            count = await run_once(agb, memory.context_id)
            print(f"this run found {count - 1} earlier note(s)")

        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "notes.json"
            fetched = await agb.context.download_file(
                memory.context_id, f"{MEMORY}/notes.json", local
            )
            fetched.raise_for_error()
            print("notes:", json.loads(local.read_text()))


if __name__ == "__main__":
    asyncio.run(main())
