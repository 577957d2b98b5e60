"""An agent's tool-calling loop: the model asks for python to run, the loop awaits it in a
sandbox and hands back the output (or the error) until the model answers.

The model is a stand-in that follows a script, so the example runs anywhere; replace
`ScriptedModel.next` with a call to your LLM, passing `TOOLS` as its tool schema.

    python examples/agent_loop.py
"""

import asyncio
import json

import anyio

from aioagb import AsyncAGB, AsyncSession, CreateSessionParams

TOOLS = [
    {
        "name": "run_python",
        "description": "Run python in a persistent sandbox; returns stdout and the result.",
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string"}},
            "required": ["code"],
        },
    }
]
MAX_STEPS = 6


class ScriptedModel:
    """Plays an LLM: first writes buggy code, reads the error, fixes it, then answers."""

    def __init__(self, numbers: list[int]) -> None:
        self.plan = [
            f"data = {numbers}\nprint(mean(data))",  # forgot the import: a NameError
            "from statistics import mean\nprint(mean(data))",  # `data` is still there
        ]

    async def next(self, messages: list[dict[str, str]]) -> dict[str, object]:
        if self.plan:
            code = self.plan.pop(0)
            return {"tool_call": {"name": "run_python", "arguments": json.dumps({"code": code})}}
        return {"answer": f"The mean is {messages[-1]['content'].strip()}."}


async def call_tool(session: AsyncSession, arguments: str) -> str:
    code = json.loads(arguments)["code"]
    result = await session.code.run(code, "python", timeout_s=30)
    if not result.success:
        # Give the model the error as text: it is input for its next step, not a crash.
        return f"Error: {result.error_message}"
    return "".join(result.logs.stdout) + (result.result if result.results else "")


async def agent(agb: AsyncAGB, name: str, numbers: list[int]) -> str:
    model = ScriptedModel(numbers)
    messages = [{"role": "user", "content": f"What is the mean of {numbers}?"}]
    params = CreateSessionParams(image_id="agb-code-space-2", labels={"agent": name})
    async with agb.session(params) as session:  # one sandbox per conversation
        for _ in range(MAX_STEPS):
            reply = await model.next(messages)
            if "answer" in reply:
                return str(reply["answer"])
            call = reply["tool_call"]
            assert isinstance(call, dict)
            output = await call_tool(session, call["arguments"])
            print(f"[{name}] tool output: {output.strip()}")
            messages.append({"role": "tool", "content": output})
    return "gave up"


async def main() -> None:
    answers: dict[str, str] = {}
    async with AsyncAGB.local() as agb:

        async def run(name: str, numbers: list[int]) -> None:
            with anyio.fail_after(60):  # a bound on the whole conversation
                answers[name] = await agent(agb, name, numbers)

        # Agents run concurrently in one event loop, each awaiting its own sandbox.
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, "alice", [1, 2, 3, 4])
            tg.start_soon(run, "bob", [10, 20])
    for name in sorted(answers):
        print(f"{name}: {answers[name]}")


if __name__ == "__main__":
    asyncio.run(main())
