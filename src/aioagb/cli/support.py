"""What the CLI's session commands share: where they connect, one-line errors, labels.

Every session command takes `--local` (an embedded AGB Local for the command's lifetime) or
`--api-key`/`--endpoint` (else `AGB_API_KEY`/`AGB_ENDPOINT`/`.env`, as the SDK reads them).
Failures print one line on stderr (`Error: ...`) and exit 1; never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import attrs
import click

from .. import _protocol as p
from .._hooks import Hooks
from ..client import AsyncAGB
from ..errors import AGBError, ConfigurationError
from ..models import ApiResponse

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_IMAGE = p.DEFAULT_IMAGE
LOCAL_NOTE = "note: --local sessions live in an embedded AGB Local and end when this command exits"


@attrs.frozen
class Target:
    """Where a command's client connects."""

    local: bool
    api_key: str | None
    endpoint: str | None

    @asynccontextmanager
    async def connect(self, hooks: Hooks | None = None) -> AsyncIterator[AsyncAGB]:
        """A client for the command's lifetime (with `--local`, a server for it too)."""
        if self.local:
            async with AsyncAGB.local(hooks=hooks) as agb:
                yield agb
        else:
            async with AsyncAGB(self.api_key, endpoint=self.endpoint, hooks=hooks) as agb:
                yield agb


def target_options(command: F) -> F:
    """Add --local, --api-key and --endpoint; the command receives them as `target`."""

    @functools.wraps(command)
    def wrapper(
        *args: Any, local: bool, api_key: str | None, endpoint: str | None, **kw: Any
    ) -> Any:
        if local and (api_key or endpoint):
            raise click.UsageError("--local starts its own AGB Local: drop --api-key/--endpoint.")
        return command(*args, target=Target(local, api_key, endpoint), **kw)

    options = (
        click.option(
            "--local",
            is_flag=True,
            help="Use an embedded AGB Local that lives as long as this command.",
        ),
        click.option("--api-key", help="API key (default: AGB_API_KEY, or .env)."),
        click.option(
            "--endpoint", help="API endpoint (default: AGB_ENDPOINT, .env, or the AGB cloud)."
        ),
    )
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def parse_labels(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    """`--label k=v` (repeatable) into a dict."""
    labels: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--label")
        labels[key.strip()] = val.strip()
    return labels


def label_option(help_text: str) -> Callable[[F], F]:
    """`--label KEY=VALUE` (repeatable), parsed into a dict."""
    return click.option(
        "--label",
        "labels",
        multiple=True,
        metavar="KEY=VALUE",
        callback=parse_labels,
        help=help_text,
    )


def run_async(func: Callable[[], Awaitable[T]]) -> T:
    """Run `func` in a fresh event loop; SDK and start-up failures become one line, exit 1."""
    try:
        return anyio.run(func)
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except BaseException as exc:
        message = describe(exc)
        if message is None:
            raise
        raise click.ClickException(message) from None


def describe(exc: BaseException) -> str | None:
    """The one line to show for `exc`, or None for an exception that is not ours to explain."""
    inner_exceptions = getattr(exc, "exceptions", None)  # an exception group (3.10: backport)
    if isinstance(inner_exceptions, tuple) and inner_exceptions:
        messages = [describe(inner) for inner in inner_exceptions]
        known = [m for m in messages if m is not None]
        return known[0] if known and len(known) == len(messages) else None
    if isinstance(exc, click.ClickException):
        return exc.format_message()
    if isinstance(exc, ConfigurationError) and exc.message.startswith("No API key"):
        text = (
            "No API key: pass --api-key, set AGB_API_KEY (or put it in a .env file here), "
            "or use --local for an embedded AGB Local."
        )
    elif isinstance(exc, AGBError):
        text = str(exc)
    elif isinstance(exc, OSError) or _is_sandbox_error(exc):
        text = f"AGB Local could not start: {exc}"
    else:
        return None
    return " ".join(text.split())


def _is_sandbox_error(exc: BaseException) -> bool:
    """Whether `exc` is AGB Local's `SandboxError`. Only a command that started the server
    can raise one, so a command that did not must not import the server to ask."""
    sandbox = sys.modules.get("aioagb.server.sandbox")
    return sandbox is not None and isinstance(exc, sandbox.SandboxError)


def fail_with(result: ApiResponse, what: str = "") -> click.ClickException:
    """The one-line error for a failed seed-parity result."""
    message = result.error_message or "failed"
    if result.exception is not None:
        details = str(result.exception).removeprefix(result.exception.message).strip()
        message = f"{message} {details}".strip()
    return click.ClickException(f"{what}{message}")


def refuse_local(target: Target, why: str) -> None:
    """Refuse `--local` where an embedded AGB Local, new and empty, cannot help: `why` says
    what the command would have looked for in it."""
    if target.local:
        raise click.UsageError(
            f"--local starts a new, empty AGB Local for this command alone: {why}. "
            "To keep sessions between commands, run `aioagb serve` and point --endpoint "
            "(or AGB_ENDPOINT) at it."
        )


def confirm_delete(count: int, what: str = "sessions") -> bool:
    """Ask before deleting `count` sessions (or `what`): False when the user says no. Refuse
    when nobody can answer (CI, no stdin, end of input)."""
    question = f"Delete {count} {what}?"
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        raise click.ClickException(f"{question} Not asking with CI set: pass --yes to delete them.")
    if sys.stdin is None or sys.stdin.closed:
        raise click.ClickException(f"{question} No stdin to ask on: pass --yes to delete them.")
    try:
        answer = click.confirm(question, default=False, err=True)
    except click.Abort:  # end of input, or Ctrl-C
        click.echo(err=True)  # end the prompt's line
        raise click.ClickException(f"{question} No answer: pass --yes to delete them.") from None
    return answer
