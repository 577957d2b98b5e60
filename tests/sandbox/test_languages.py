"""java (the JDK's source launcher) and r (Rscript) in the session's sandbox, with python's
limits and deadline; and javascript's main result, which matches python's."""

from __future__ import annotations

import pytest

from aioagb.server.sandbox import LocalSandbox
from aioagb.server.sandbox.agent.languages import java_source
from aioagb.server.sandbox.runtimes import find_runtimes

pytestmark = pytest.mark.skipif(
    not {"java", "r"} <= set(find_runtimes("bwrap").languages),
    reason="a JDK and R are not installed (scripts/_install_system.sh installs them)",
)


async def test_java_snippets_are_wrapped_and_full_classes_run(sandbox: LocalSandbox) -> None:
    snippet = (
        "import java.util.List;\n"
        'System.out.println("Hello from Java!");\n'
        "int total = 0;\n"
        "for (int n : List.of(1, 2, 3)) { total += n; }\n"
        'System.err.println("sum " + total);'
    )
    out = await sandbox.run_code(snippet, "java", 30)
    assert out.error is None, out.stderr
    assert out.stdout == ["Hello from Java!\n"]
    assert out.stderr == ["sum 6\n"]
    program = (
        "public class Greeter {\n"
        '    static String greet(String who) { return "hi " + who; }\n'
        "    public static void main(String[] args) {\n"
        '        System.out.println(greet("there"));\n'
        "    }\n"
        "}\n"
    )
    full = await sandbox.run_code(program, "java", 30)
    assert full.error is None, full.stderr
    assert full.stdout == ["hi there\n"]


def test_a_wrapped_snippet_keeps_the_users_line_numbers() -> None:
    source = java_source("import java.util.*;\n\nint x = 1;\nSystem.out.println(x);")
    lines = source.splitlines()
    assert lines[0] == "import java.util.*;"
    assert lines[2].endswith("{ int x = 1;") and lines[3] == "System.out.println(x);"


async def test_java_errors_name_the_compile_error_line_or_the_exception(
    sandbox: LocalSandbox,
) -> None:
    compile_error = await sandbox.run_code('System.out.println("x")\nint y = 2;', "java", 30)
    assert compile_error.error == "CompilationError: line 1: ';' expected"
    assert "error" in "".join(compile_error.stderr)
    thrown = await sandbox.run_code('System.out.println("before");\nint z = 1 / 0;', "java", 30)
    assert thrown.error == "java.lang.ArithmeticException: / by zero"
    assert thrown.stdout == ["before\n"]
    assert "Main.java:2" in "".join(thrown.stderr)


async def test_java_and_r_time_out_like_python(sandbox: LocalSandbox) -> None:
    java = await sandbox.run_code("while (true) {}", "java", 2)
    assert java.timed_out and java.error == "TimeoutError: execution timed out after 2s"
    r = await sandbox.run_code("repeat {}", "r", 1)
    assert r.timed_out and r.error == "TimeoutError: execution timed out after 1s"
    # The sandbox is fine afterwards.
    assert (await sandbox.run_code('cat("ok\\n")', "r", 30)).stdout == ["ok\n"]


async def test_r_output_goes_to_stdout_messages_to_stderr_and_errors_read_like_r(
    sandbox: LocalSandbox,
) -> None:
    code = (
        'cat("Hello from R!\\n")\n'
        "df <- data.frame(x = 1:2, y = c('a', 'b'))\n"
        "print(df)\n"
        'message("to stderr")'
    )
    out = await sandbox.run_code(code, "r", 30)
    assert out.error is None, out.stderr
    stdout = "".join(out.stdout)
    assert stdout.startswith("Hello from R!\n") and "x y" in stdout
    assert out.stderr == ["to stderr\n"]
    failed = await sandbox.run_code('cat("start\\n")\nstop("boom")', "r", 30)
    assert failed.error == "Error: boom"
    assert failed.stdout == ["start\n"]
    missing = await sandbox.run_code("undefined_thing + 1", "r", 30)
    assert missing.error == "Error: object 'undefined_thing' not found"


async def test_javascript_and_python_give_the_same_result_shapes(sandbox: LocalSandbox) -> None:
    # The last expression is the main result, without a trailing newline, in both; what a
    # cell prints keeps its newline in both.
    for language, code in (
        ("python", "print('out')\n1 + 1"),
        ("javascript", "console.log('out');\n1 + 1"),
    ):
        out = await sandbox.run_code(code, language, 30)
        assert out.error is None, out.stderr
        assert out.stdout == ["out\n"], language
        assert out.results == [{"text/plain": "2", "isMainResult": True}], language
    nothing = await sandbox.run_code("const y = 1;", "javascript", 30)
    assert nothing.results == []
    thrown = await sandbox.run_code("throw new TypeError('bad')", "javascript", 30)
    assert thrown.error == "TypeError: bad"
    assert "node:vm" not in "".join(thrown.stderr)
