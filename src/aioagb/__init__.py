"""aioagb: the async-first Python SDK for AGB cloud sandboxes, and AGB Local.

The public names live here; everything else is in private modules. Seed-parity methods
(`create`, `get`, `list`, `delete`, `session.info()`, `session.code.run()`, ...) return result
objects; the async-native API (`agb.session()`, `open_session`, `aclose`, the pool and batch
helpers) raises `aioagb.errors` exceptions. See `aioagb.errors` for the rule in full.
"""

import logging as _logging

from ._hooks import Hooks, RequestEvent, RetryEvent, SessionEvent
from ._many.batch import BatchResult
from ._many.listing import SessionInfo
from ._many.pool import PoolStats, SessionPool
from ._retry import RetryPolicy
from ._version import __version__
from .client import AsyncAGB
from .errors import (
    AGBError,
    AuthenticationError,
    BatchFailure,
    ClientClosedError,
    ConfigurationError,
    ConnectError,
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
    CodeEvent,
    CodeExecutionResult,
    CommandResult,
    CreateSessionParams,
    DeleteResult,
    DirectoryListResult,
    EndEvent,
    EnhancedCodeExecutionResult,
    ErrorEvent,
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
    ResultEvent,
    SessionListResult,
    SessionMetrics,
    SessionMetricsResult,
    SessionResult,
    SessionStatusResult,
    StderrEvent,
    StdoutEvent,
)
from .modules import Code, CodeModule, Command, CommandModule, FileSystem
from .modules.stream import CodeStream
from .session import AsyncSession
from .transports import (
    AiohttpTransport,
    MockTransport,
    Transport,
    TransportRequest,
    TransportResponse,
)

# A library leaves logging to the application: without these, Python's last-resort handler
# prints aioagb's and stamina's (retry) warnings to stderr when nothing is configured.
for _name in ("aioagb", "stamina"):
    _logging.getLogger(_name).addHandler(_logging.NullHandler())

__all__ = [
    "AGBError",
    "AiohttpTransport",
    "AsyncAGB",
    "AsyncSession",
    "AuthenticationError",
    "BatchFailure",
    "BatchResult",
    "BinaryFileContentResult",
    "BoolResult",
    "ClientClosedError",
    "Code",
    "CodeEvent",
    "CodeExecutionResult",
    "CodeModule",
    "CodeStream",
    "Command",
    "CommandModule",
    "CommandResult",
    "ConfigurationError",
    "ConnectError",
    "CreateSessionParams",
    "DeleteResult",
    "DirectoryListResult",
    "EndEvent",
    "EnhancedCodeExecutionResult",
    "ErrorEvent",
    "ExecutionError",
    "ExecutionLogs",
    "ExecutionResult",
    "FileContentResult",
    "FileInfoResult",
    "FileSearchResult",
    "FileSystem",
    "GetSessionData",
    "GetSessionResult",
    "Hooks",
    "InvalidArgumentError",
    "McpTool",
    "McpToolResult",
    "McpToolsResult",
    "MockTransport",
    "MultipleFileContentResult",
    "NotFoundError",
    "OperationResult",
    "PoolClosedError",
    "PoolStats",
    "PoolTimeoutError",
    "RateLimitedError",
    "RequestEvent",
    "RequestTimeoutError",
    "ResultEvent",
    "RetryEvent",
    "RetryPolicy",
    "ServerError",
    "SessionBatchError",
    "SessionCreateError",
    "SessionDeleteError",
    "SessionEvent",
    "SessionInfo",
    "SessionListResult",
    "SessionMetrics",
    "SessionMetricsResult",
    "SessionPool",
    "SessionResult",
    "SessionStatusResult",
    "StderrEvent",
    "StdoutEvent",
    "ToolError",
    "Transport",
    "TransportError",
    "TransportRequest",
    "TransportResponse",
    "__version__",
]
