"""The session's modules: `session.code`, `session.command` and `session.file`.

Each takes a `SessionChannel` (the engine bound to one session), never the session or the client.
"""

from .code import Code, CodeModule
from .command import Command, CommandModule
from .files import FileSystem

__all__ = ["Code", "CodeModule", "Command", "CommandModule", "FileSystem"]
