"""aioagb: the async-first Python SDK for AGB cloud sandboxes, and AGB Local.

The public names live here; everything else is in private modules. Seed-parity methods
(`create`, `get`, `list`, `delete`, `session.info()`, `session.code.run()`, ...) return result
objects; the async-native API (`agb.session()`, `open_session`, `aclose`, the pool and batch
helpers) raises `aioagb.errors` exceptions. See `aioagb.errors` for the rule in full.
"""

__version__ = "0.1.0.dev0"

import logging as _logging

from ._batch import BatchFailure, BatchResult
from ._hooks import Hooks, RequestEvent, RetryEvent, SessionEvent
from ._listing import SessionInfo
from ._retry import RetryPolicy
from .client import AsyncAGB
from .errors import (
    AGBError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    InvalidArgumentError,
    NotFoundError,
    PoolClosedError,
    PoolTimeoutError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    SessionBatchError,
    SessionCreateError,
    SessionDeleteError,
    ToolError,
    TransportError,
)
from .models import (
    BinaryFileContentResult,
    BoolResult,
    CodeExecutionResult,
    CommandResult,
    CreateSessionParams,
    DeleteResult,
    DirectoryListResult,
    EnhancedCodeExecutionResult,
    ExecutionError,
    ExecutionLogs,
    ExecutionResult,
    FileContentResult,
    FileInfoResult,
    FileSearchResult,
    GetSessionData,
    GetSessionResult,
    McpTool,
    McpToolResult,
    McpToolsResult,
    MultipleFileContentResult,
    OperationResult,
    SessionListResult,
    SessionResult,
    SessionStatusResult,
)
from .pool import PoolStats, SessionPool
from .session import AsyncSession

# A library leaves logging to the application: without these, Python's last-resort handler
# prints aioagb's and stamina's (retry) warnings to stderr when nothing is configured.
for _name in ("aioagb", "stamina"):
    _logging.getLogger(_name).addHandler(_logging.NullHandler())

__all__ = [
    "AGBError",
    "AsyncAGB",
    "AsyncSession",
    "AuthenticationError",
    "BatchFailure",
    "BatchResult",
    "BinaryFileContentResult",
    "BoolResult",
    "ClientClosedError",
    "CodeExecutionResult",
    "CommandResult",
    "ConfigurationError",
    "CreateSessionParams",
    "DeleteResult",
    "DirectoryListResult",
    "EnhancedCodeExecutionResult",
    "ExecutionError",
    "ExecutionLogs",
    "ExecutionResult",
    "FileContentResult",
    "FileInfoResult",
    "FileSearchResult",
    "GetSessionData",
    "GetSessionResult",
    "Hooks",
    "InvalidArgumentError",
    "McpTool",
    "McpToolResult",
    "McpToolsResult",
    "MultipleFileContentResult",
    "NotFoundError",
    "OperationResult",
    "PoolClosedError",
    "PoolStats",
    "PoolTimeoutError",
    "RateLimitedError",
    "RequestEvent",
    "RequestTimeoutError",
    "RetryEvent",
    "RetryPolicy",
    "ServerError",
    "SessionBatchError",
    "SessionCreateError",
    "SessionDeleteError",
    "SessionEvent",
    "SessionInfo",
    "SessionListResult",
    "SessionPool",
    "SessionResult",
    "SessionStatusResult",
    "ToolError",
    "TransportError",
    "__version__",
]
