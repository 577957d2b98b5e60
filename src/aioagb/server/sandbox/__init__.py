"""Sandbox backends for AGB Local: bubblewrap where it works, a loudly unsafe plain-process
fallback elsewhere. The contract the HTTP layer relies on is in `_interface`."""

from ._interface import (
    WORKSPACE_DIR,
    CodeOutcome,
    DirEntry,
    FileChange,
    FileEdit,
    FileStat,
    Sandbox,
    SandboxBackend,
    SandboxError,
    SandboxFileError,
    SandboxLimits,
    SandboxUnavailable,
    ShellOutcome,
)

__all__ = [
    "WORKSPACE_DIR",
    "CodeOutcome",
    "DirEntry",
    "FileChange",
    "FileEdit",
    "FileStat",
    "Sandbox",
    "SandboxBackend",
    "SandboxError",
    "SandboxFileError",
    "SandboxLimits",
    "SandboxUnavailable",
    "ShellOutcome",
]
