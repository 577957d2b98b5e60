"""The languages other than python, one process per cell, with python's limits and deadline:
javascript (node, through `node_cell.js`: the last expression's value is the main result),
java (the JDK's single-file source launcher; a snippet without a class is wrapped in one)
and r (Rscript). Each answers in run_code's shape; what the cell writes goes to its
`CellOutput`, so it streams like python's."""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence

from .config import CONFIG, TMP, WORKSPACE
from .control import RunControl
from .errors import Unavailable
from .jsonlines import JSONDict
from .outputs import Capture, CellOutput
from .processes import run_process, shell_env

NODE_RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node_cell.js")
ERROR_SCAN_BYTES = 64 * 1024  # the head of stderr in which a cell's error line is looked for
MIB = 1024 * 1024

# The JVM sizes itself from the host's memory, which the sandbox does not see as its own
# (the cgroup is not mounted inside): name its heap and reservations, so that it fits both
# the session's memory cap and RLIMIT_AS (SANDBOX.md trap 2). Serial GC, C1 only and one
# compiler thread: a cell is short, and every JVM thread counts against the pids limit.
JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:CICompilerCount=1",
    "-Xss1m",
    "-XX:ReservedCodeCacheSize=32m",
    "-XX:MaxMetaspaceSize=192m",
    "-XX:CompressedClassSpaceSize=64m",
    "-XX:-UsePerfData",  # no /tmp/hsperfdata_* files
)
JAVA_MIN_HEAP = 64 * MIB
JAVA_MAX_HEAP = 2048 * MIB

# A java snippet that declares its own entry point runs as it is.
_JAVA_MAIN = re.compile(r"\bstatic\s+void\s+main\s*\(")
_JAVA_PREAMBLE = re.compile(r"^\s*(import\s|package\s|//|/\*|\*|$)")
_JAVA_COMPILE_ERROR = re.compile(r"^\S*\.java:(\d+): error: (.*)$")
_JAVA_UNCAUGHT = 'Exception in thread "main" '


def run_language(req: JSONDict, output: CellOutput, control: RunControl) -> JSONDict:
    """One cell of javascript, java or r."""
    language = req["language"]
    runner = _RUNNERS.get(language)
    if runner is None:
        raise Unavailable(f"{language} is not available on this server")
    return runner(req, output, control)


def _run_cell(
    argv: Sequence[str],
    req: JSONDict,
    output: CellOutput,
    control: RunControl,
    error_of: Callable[[str], str | None],
    *,
    stdin_data: bytes | None = None,
    pass_fds: Sequence[int] = (),
    extra_readers: dict[int, Callable[[bytes], None]] | None = None,
) -> JSONDict:
    """Runs one cell's process; its error is `error_of(stderr)`, else its exit code."""
    started = time.monotonic()
    timeout = float(req["timeout"])
    head = Capture(ERROR_SCAN_BYTES)  # the error line, even when stderr is streamed

    def stderr(data: bytes) -> None:
        head.feed(data)
        output.feed("stderr", data)

    res = run_process(
        argv,
        timeout,
        CONFIG.real(WORKSPACE),
        shell_env(None),
        {"stdout": lambda data: output.feed("stdout", data), "stderr": stderr},
        stdin_data=stdin_data,
        control=control,
        pass_fds=pass_fds,
        extra_readers=extra_readers,
    )
    error = None
    if res["timed_out"]:
        error = f"TimeoutError: execution timed out after {timeout:g}s"
    elif res["cancelled"]:
        error = "KeyboardInterrupt: the run was cancelled"
    elif res["exit_code"] != 0:
        name = os.path.basename(argv[0])
        error = error_of(head.text()) or f"{name} exited with code {res['exit_code']}"
    return {
        **output.reply(),
        "error": error,
        "execution_count": None,
        "execution_time": time.monotonic() - started,
        "timed_out": res["timed_out"],
        "cancelled": res["cancelled"],
    }


# --- javascript ---------------------------------------------------------------------------


def _javascript(req: JSONDict, output: CellOutput, control: RunControl) -> JSONDict:
    if not CONFIG.node:
        raise Unavailable("javascript is not available on this server (node is not installed)")
    result_r, result_w = os.pipe()
    lines = bytearray()

    def on_result(data: bytes) -> None:
        lines.extend(data)
        while b"\n" in lines:
            line, _, rest = bytes(lines).partition(b"\n")
            lines[:] = rest
            with contextlib.suppress(ValueError):  # not the runner's line: not shown
                output.result(json.loads(line))

    try:
        return _run_cell(
            [CONFIG.node, NODE_RUNNER, str(result_w)],
            req,
            output,
            control,
            _js_error,
            stdin_data=req["code"].encode("utf-8"),
            pass_fds=(result_w,),
            extra_readers={result_r: on_result},
        )
    finally:
        os.close(result_r)


def _js_error(stderr: str) -> str | None:
    for line in stderr.splitlines():
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception")) and " " not in head and ":" in line:
            return line.strip()
        if line.startswith("Uncaught "):
            return line.strip()
    return None


# --- java ---------------------------------------------------------------------------------


def java_source(code: str) -> str:
    """`code` as a source file for the launcher. A snippet without a `main` method becomes
    the body of `Main.main`, its leading imports kept in front; line numbers stay the
    user's (the class header shares the first statement's line)."""
    if _JAVA_MAIN.search(code):
        return code
    lines = code.splitlines()
    first = next((i for i, line in enumerate(lines) if not _JAVA_PREAMBLE.match(line)), None)
    if first is None:
        return code + "\npublic class Main { public static void main(String[] args) {} }\n"
    header = "public class Main { public static void main(String[] args) throws Exception { "
    lines[first] = header + lines[first]
    return "\n".join(lines) + "\n}}\n"


def _java_flags() -> list[str]:
    heap = min(max(CONFIG.memory // 2, JAVA_MIN_HEAP), JAVA_MAX_HEAP)
    return [*JVM_FLAGS, f"-Xmx{heap // MIB}m"]


def _java(req: JSONDict, output: CellOutput, control: RunControl) -> JSONDict:
    if not CONFIG.java:
        raise Unavailable("java is not available on this server (no JDK is installed)")
    program = [CONFIG.java, *_java_flags()]
    source = java_source(req["code"])
    return _run_source(program, "Main.java", source, req, output, control, _java_error)


def _java_error(stderr: str) -> str | None:
    for line in stderr.splitlines():
        compile_error = _JAVA_COMPILE_ERROR.match(line)
        if compile_error:
            return f"CompilationError: line {compile_error[1]}: {compile_error[2]}"
        if line.startswith(_JAVA_UNCAUGHT):
            return line[len(_JAVA_UNCAUGHT) :].strip()
        if line.startswith("Error: ") or line.startswith("error: "):
            return line.strip()
    return None


# --- r ------------------------------------------------------------------------------------


def _r(req: JSONDict, output: CellOutput, control: RunControl) -> JSONDict:
    if not CONFIG.rscript:
        raise Unavailable("r is not available on this server (R is not installed)")
    return _run_source([CONFIG.rscript], "cell.R", req["code"], req, output, control, _r_error)


def _r_error(stderr: str) -> str | None:
    for line in stderr.splitlines():
        if line.startswith("Error"):
            return line.strip()
    return None


def _run_source(
    program: Sequence[str],
    name: str,
    source: str,
    req: JSONDict,
    output: CellOutput,
    control: RunControl,
    error_of: Callable[[str], str | None],
) -> JSONDict:
    """Runs `program` on `source`, written as `name` in a fresh directory of the sandbox's
    /tmp (removed afterwards)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix=".cell-", dir=CONFIG.real(TMP)) as workdir:
        path = os.path.join(workdir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        return _run_cell([*program, path], req, output, control, error_of)


_RUNNERS: dict[str, Callable[[JSONDict, CellOutput, RunControl], JSONDict]] = {
    "javascript": _javascript,
    "java": _java,
    "r": _r,
}
