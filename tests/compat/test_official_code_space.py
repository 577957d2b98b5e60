"""What the official SDK does with a code-space image, against AGB Local's real sandbox:
`stream_beta=True` and its long-lived WebSocket, every rich result type, java, r and
get_metrics, as the official integration tests do them."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from agb.modules.ws.exceptions import WsCancelledError
from agb.session import Session

from aioagb.server.sandbox.runtimes import find_runtimes

TARGET = "wuying_codespace"  # the official client's target without a tool list


def _stream_frame(code: str, timeout_s: int = 60) -> dict[str, Any]:
    return {
        "method": "run_code",
        "mode": "stream",
        "params": {"language": "python", "timeoutS": timeout_s, "code": code},
    }


def test_stream_beta_delivers_chunks_while_the_cell_runs(session: Session) -> None:
    assert session.ws_url and session.token
    chunks: list[str] = []
    times: list[float] = []
    errors: list[object] = []
    released: list[float] = []

    def on_stdout(chunk: str) -> None:
        chunks.append(chunk)
        times.append(time.monotonic())
        if "hello" in chunk:  # the cell goes on only once this callback has the chunk
            assert session.file.write("/workspace/go", "").success
            released.append(time.monotonic())

    code = (
        "import os, time\n"
        "print('hello', flush=True)\n"
        "while not os.path.exists('/workspace/go'): time.sleep(0.01)\n"
        "time.sleep(1.0)\n"
        "print(2, flush=True)\n"
    )
    result = session.code.run(
        code,
        "python",
        timeout_s=60,
        stream_beta=True,
        on_stdout=on_stdout,
        on_stderr=lambda chunk: errors.append(("stderr", chunk)),
        on_error=errors.append,
    )
    assert errors == [] and result.success, result.error_message
    assert len(chunks) >= 2
    hello_t = next(t for t, c in zip(times, chunks, strict=True) if "hello" in c)
    two_t = next(t for t, c in zip(times, chunks, strict=True) if "2" in c)
    assert hello_t <= released[0] and two_t - hello_t >= 1.0
    assert result.logs.stdout == chunks
    assert result.request_id  # the invocation id


def test_stream_beta_returns_rich_results_and_reports_an_error_once(session: Session) -> None:
    results = session.code.run(
        "from IPython.display import HTML, display\ndisplay(HTML('<b>x</b>'))\n6 * 7",
        "python",
        stream_beta=True,
    )
    assert results.success, results.error_message
    assert [(r.html, r.is_main_result) for r in results.results] == [
        ("<b>x</b>", False),
        (None, True),
    ]
    assert results.results[1].text == "42"
    errors: list[object] = []
    failed = session.code.run("1 / 0", "python", stream_beta=True, on_error=errors.append)
    assert not failed.success
    assert failed.error_message == "ZeroDivisionError: division by zero"
    assert "Traceback" in "".join(failed.logs.stderr)
    assert len(errors) == 1


def _call_stream(ws_client: Any, code: str) -> tuple[dict[str, Any], int, list[Exception]]:
    """One low-level call, as the official long-connection test makes it: its end data, how
    many on_end callbacks came, and the errors."""
    ends: list[dict[str, Any]] = []
    errors: list[Exception] = []
    handle = ws_client.call_stream(
        target=TARGET,
        data=_stream_frame(code),
        on_event=lambda inv, data: None,
        on_end=lambda inv, data: ends.append(data),
        on_error=lambda inv, err: errors.append(err),
    )
    return handle.wait_end(), len(ends), errors


def test_the_long_lived_connection_serves_many_calls(session: Session) -> None:
    ws_client = session._get_ws_client()
    ws_client.connect()
    for n in range(3):
        end, ends, errors = _call_stream(ws_client, f"x = {n}")
        assert errors == [] and ends == 1 and end["status"] == "finished"
    # code.run(stream_beta=True) reuses the same client and socket.
    assert session.code.run("x", "python", stream_beta=True).results[0].text == "2"
    assert session._get_ws_client() is ws_client


def test_cancel_raises_at_once_and_a_cancel_frame_interrupts_the_cell(session: Session) -> None:
    ws_client = session._get_ws_client()
    started = threading.Event()
    ends: list[dict[str, Any]] = []
    errors: list[Exception] = []
    handle = ws_client.call_stream(
        target=TARGET,
        data=_stream_frame(
            "kept = 'yes'\nimport time\nprint(0, flush=True)\ntime.sleep(10)\n"
            "open('/workspace/after-sleep', 'w').write('ran on')"
        ),
        on_event=lambda inv, data: started.set(),
        on_end=lambda inv, data: ends.append(data),
        on_error=lambda inv, err: errors.append(err),
    )
    assert started.wait(30)
    # The official client's cancel() only forgets the call; AGB Local also understands a
    # cancel frame on the same invocation, which stops the cell in the sandbox.
    handle.write({"method": "cancel"})
    handle.cancel()
    with pytest.raises(WsCancelledError):
        handle.wait_end()
    assert ends == [] and len(errors) == 1 and isinstance(errors[0], WsCancelledError)
    after = session.code.run("import os\nkept, os.path.exists('/workspace/after-sleep')", "python")
    assert after.success and after.results[0].text == "('yes', False)"


def test_each_rich_display_type_yields_one_result_of_its_kind(session: Session) -> None:
    show = "from IPython.display import display, "
    cells = {
        "html": f"{show}HTML\ndisplay(HTML('<h1>Hello HTML</h1>'))",
        "markdown": f"{show}Markdown\ndisplay(Markdown('# Hello Markdown'))",
        "png": "import matplotlib.pyplot as plt\nplt.figure()\nplt.plot([1, 2])\nplt.show()",
        "svg": f'{show}SVG\ndisplay(SVG(\'<svg height="9" width="9"><circle r="4"/></svg>\'))',
        "latex": f"{show}Latex\ndisplay(Latex(r'\\frac{{1}}{{2}}'))",
        "json": f"{show}JSON\ndisplay(JSON({{'a': [1, 2]}}))",
        "jpeg": f"import io\nfrom PIL import Image as P\n{show}Image\n"
        "b = io.BytesIO(); P.new('RGB', (8, 8)).save(b, 'JPEG')\n"
        "display(Image(data=b.getvalue(), format='jpeg'))",
    }
    for kind, code in cells.items():
        result = session.code.run(code, "python")
        assert result.success, (kind, result.error_message)
        values = [getattr(r, kind) for r in result.results if getattr(r, kind)]
        assert len(values) == 1, (kind, result.results)
        assert not any(r.is_main_result for r in result.results)
    assert session.code.run(cells["json"], "python").results[0].json == {"a": [1, 2]}


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_charts_from_mimebundles_are_dicts(session: Session, version: str) -> None:
    code = (
        "from IPython.display import display\n"
        "class MockChart:\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        return {\n"
        f"            'application/vnd.vegalite.{version}+json':\n"
        "                {'data': 'mock', 'mark': 'bar'},\n"
        "            'text/plain': 'MockChart'\n"
        "        }\n"
        "display(MockChart())"
    )
    result = session.code.run(code, "python")
    assert result.success, result.error_message
    assert result.results and all(isinstance(r.chart, dict) for r in result.results)
    assert result.results[0].chart == {"data": "mock", "mark": "bar"}


def test_display_updates_replace_in_place_and_await_and_shell_escapes_work(
    session: Session,
) -> None:
    updated = session.code.run(
        "from IPython.display import display\nh = display('one', display_id=True)\nh.update('two')",
        "python",
    )
    assert [r.text for r in updated.results] == ["'two'"]
    awaited = session.code.run("import asyncio\nawait asyncio.sleep(0)\n'awaited'", "python")
    assert awaited.success and awaited.results[0].text == "'awaited'"
    shell = session.code.run("!echo from-the-shell", "python")
    assert shell.success and shell.logs.stdout == ["from-the-shell\n"]


def test_javascript_results_match_pythons(session: Session) -> None:
    for language, code in (("python", "print('p')\n1 + 1"), ("js", "console.log('p');\n1 + 1")):
        result = session.code.run(code, language)
        assert result.success, result.error_message
        assert result.logs.stdout == ["p\n"]
        assert [(r.text, r.is_main_result) for r in result.results] == [("2", True)]


needs_java_and_r = pytest.mark.skipif(
    not {"java", "r"} <= set(find_runtimes("bwrap").languages),
    reason="a JDK and R are not installed (scripts/_install_system.sh installs them)",
)


@needs_java_and_r
def test_java_as_the_official_tests_send_it(session: Session) -> None:
    snippet = session.code.run('System.out.println("Java is supported");', "java", timeout_s=30)
    assert snippet.success, snippet.error_message
    assert snippet.logs.stdout == ["Java is supported\n"]
    body = (
        'System.out.println("=== Java Code Execution Test ===");\n'
        "int a = 10;\nint b = 20;\n"
        'System.out.println("Sum of " + a + " and " + b + " is: " + (a + b));\n'
        "int[] numbers = {1, 2, 3, 4, 5};\nint total = 0;\n"
        "for (int num : numbers) {\n    total += num;\n}\n"
        'System.out.println("Array sum: " + total);\n'
    )
    result = session.code.run(body, "JAVA", timeout_s=60)
    assert result.success, result.error_message
    assert "Sum of 10 and 20 is: 30\nArray sum: 15\n" in "".join(result.logs.stdout)
    failed = session.code.run("int x = 1 / 0;", "java", timeout_s=30)
    assert not failed.success and "ArithmeticException" in failed.error_message


@needs_java_and_r
def test_r_as_the_official_tests_send_it(session: Session) -> None:
    code = (
        "numbers <- c(10, 20, 30, 40, 50)\n"
        'cat("Mean:", mean(numbers), "\\n")\n'
        "df <- data.frame(x = 1:2, z = c('a', 'b'))\n"
        "print(df)\n"
        "model <- lm(y ~ x, data = data.frame(x = 1:5, y = c(2, 4, 6, 8, 10)))\n"
        'cat("Slope:", coef(model)[["x"]], "\\n")'
    )
    result = session.code.run(code, "R", timeout_s=60)
    assert result.success, result.error_message
    stdout = "".join(result.logs.stdout)
    assert "Mean: 30" in stdout and "Slope: 2" in stdout
    failed = session.code.run('stop("boom")', "r", timeout_s=30)
    assert not failed.success and failed.error_message == "Error: boom"


def test_get_metrics_reports_cpu_memory_and_disk_with_and_without_timeouts(
    session: Session,
) -> None:
    for timeouts in ({}, {"read_timeout": 30_000, "connect_timeout": 5_000}):
        result = session.get_metrics(**timeouts)
        assert result.success, result.error_message
        metrics = result.metrics
        assert metrics is not None
        assert metrics.cpu_count >= 1 and 0 <= metrics.cpu_used_pct <= 100
        assert metrics.mem_total > 0 and metrics.disk_total > 0
        assert metrics.timestamp
        assert set(result.raw) >= {"rx_rate_kbyte_per_s", "tx_used_kbyte", "mem_used", "disk_used"}


def test_list_mcp_tools_names_what_this_machine_runs(session: Session) -> None:
    tools = {tool.name: tool for tool in session.list_mcp_tools().tools}
    assert "get_metrics" in tools
    assert tools["get_metrics"].input_schema["required"] == []
    languages = tools["run_code"].input_schema["properties"]["language"]["enum"]
    assert languages == list(find_runtimes("bwrap").languages)
    assert "screenshot" not in tools  # desktop tools are not offered
