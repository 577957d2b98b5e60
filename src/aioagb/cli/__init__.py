"""The `aioagb` command line: the click group `main` and where each command lives.

The session commands (`run`, `exec`, `create`, `ls`, `rm`, in `sessions`) load with the group:
they are the SDK's client and nothing more. The commands that start AGB Local (`serve`, in
`agb_local`, and `demo`) load only when they run, so `aioagb ls` against the cloud never
imports the server (nor aiohttp's web framework). `--local` imports it inside the command,
through `AsyncAGB.local()`.

Modules: `sessions` (the session commands), `contexts` (`aioagb context ...`), `support`
(what they share: targets, errors, labels), `output` (tables, progress, plain rows),
`agb_local` (`serve`), `demo` (`demo`).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import attrs
import click

from .contexts import context_group
from .sessions import COMMANDS


@attrs.frozen
class LazyCommand:
    """A command imported only when it runs (or shows its own help)."""

    module: str  # absolute module name
    attribute: str  # the click command in it
    short_help: str  # the line `aioagb --help` shows without importing `module`

    def load(self) -> click.Command:
        """Import the module and return its command."""
        command = getattr(importlib.import_module(self.module), self.attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.module}.{self.attribute} is not a click command")
        return command


# The commands that start AGB Local: importing them imports `aioagb.server`.
LAZY_COMMANDS = {
    "serve": LazyCommand(
        "aioagb.cli.agb_local", "serve", "Run AGB Local: the AGB protocol on this machine."
    ),
    "demo": LazyCommand("aioagb.cli.demo", "demo", "Run the demo on an embedded AGB Local."),
}


class LazyGroup(click.Group):
    """A group that lists `LAZY_COMMANDS` by their short help and imports one only to run it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, eager and lazy, sorted as click sorts them."""
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command named `cmd_name`, importing it if it is lazy."""
        lazy = LAZY_COMMANDS.get(cmd_name)
        if lazy is not None and cmd_name not in self.commands:
            self.add_command(lazy.load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's help lists lazy commands by their table entry, importing nothing."""
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            lazy = LAZY_COMMANDS.get(name)
            if lazy is not None and name not in self.commands:
                rows.append((name, lazy.short_help))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="aioagb")
@click.option(
    "-v", "--verbose", is_flag=True, help="Log every request (operation, status, time) to stderr."
)
def main(verbose: bool) -> None:
    """aioagb: AGB sessions from the command line, and AGB Local (the same protocol on this
    machine).

    Session commands talk to the AGB cloud (AGB_API_KEY, AGB_ENDPOINT, a .env file, or
    --api-key/--endpoint), or with --local to an embedded AGB Local that lives as long as the
    command.
    """
    if verbose:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        sdk_logger = logging.getLogger("aioagb")
        sdk_logger.addHandler(handler)
        sdk_logger.setLevel(logging.DEBUG)


for _command in COMMANDS:
    main.add_command(_command)
main.add_command(context_group)  # `aioagb context ls|create|rm|files|upload|download`


def __getattr__(name: str) -> Any:
    """`from aioagb.cli import serve` (what `python -m aioagb.server` runs) imports `serve`
    on first use, so importing this package does not import the server."""
    if name == "serve":
        return LAZY_COMMANDS["serve"].load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LAZY_COMMANDS", "LazyCommand", "LazyGroup", "main"]
