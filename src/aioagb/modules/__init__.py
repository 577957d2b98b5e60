"""The session's modules: `session.code`, `session.command`, `session.file`,
`session.context` and `session.browser`.

Each takes a `SessionChannel` (the engine bound to one session), never the session or the client.
"""

from .browser import Browser
from .code import Code, CodeModule
from .command import Command, CommandModule
from .context import ContextManager
from .files import FileSystem
from .transfer import FileTransfer
from .watch import DirectoryWatcher

__all__ = [
    "Browser",
    "Code",
    "CodeModule",
    "Command",
    "CommandModule",
    "ContextManager",
    "DirectoryWatcher",
    "FileSystem",
    "FileTransfer",
]
