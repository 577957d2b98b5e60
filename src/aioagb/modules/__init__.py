"""The session's modules: `session.code`, `session.command`, `session.file` and
`session.context`.

Each takes a `SessionChannel` (the engine bound to one session), never the session or the client.
"""

from .code import Code, CodeModule
from .command import Command, CommandModule
from .context import ContextManager
from .files import FileSystem
from .transfer import FileTransfer
from .watch import DirectoryWatcher

__all__ = [
    "Code",
    "CodeModule",
    "Command",
    "CommandModule",
    "ContextManager",
    "DirectoryWatcher",
    "FileSystem",
    "FileTransfer",
]
