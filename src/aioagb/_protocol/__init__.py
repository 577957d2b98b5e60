"""Facts of the AGB wire protocol that both halves of the project share.

The SDK (`_protocol.requests`, `_protocol.replies`) encodes requests and decodes replies with
these names; AGB Local
(`aioagb.server`) decodes requests and encodes replies with the same ones. Nothing here does
I/O. The contract behind every constant is `shared/protocol/agb-wire.md`; the section numbers
below point into it.
"""

from __future__ import annotations

from typing import Final

# --- §1 transport -------------------------------------------------------------------------

DEFAULT_ENDPOINT: Final = "sdk-api.agb.cloud"
DEFAULT_TIMEOUT_MS: Final = 60_000

ENV_API_KEY: Final = "AGB_API_KEY"
ENV_ENDPOINT: Final = "AGB_ENDPOINT"
ENV_TIMEOUT_MS: Final = "AGB_TIMEOUT_MS"

HEADER_AUTHORIZATION: Final = "authorization"
BEARER_PREFIX: Final = "Bearer "
HEADER_REQUEST_ID: Final = "x-request-id"

# --- §0/§3/§4 routes ----------------------------------------------------------------------

PATH_CREATE_SESSION: Final = "/mcp/createSession"
PATH_GET_SESSION: Final = "/mcp/getSession"
PATH_GET_SESSION_INFO: Final = "/mcp/getSessionInfo"  # session status
PATH_LIST_SESSIONS: Final = "/sdk/ListSession"
PATH_SET_LABELS: Final = "/sdk/SetLabel"
PATH_GET_LABELS: Final = "/sdk/GetLabel"
PATH_RELEASE_ASYNC: Final = "/mcp/releaseSessionAsync"
PATH_RELEASE: Final = "/mcp/releaseSession"  # legacy, synchronous
PATH_KEEP_ALIVE: Final = "/mcp/refreshSessionIdleTime"
PATH_GET_LINK: Final = "/internet/getLink"
PATH_GET_MCP_RESOURCE: Final = "/mcp/getMcpResource"  # Session.info()
PATH_LIST_TOOLS: Final = "/mcp/listTools"
PATH_GET_CONTEXT_INFO: Final = "/sdk/GetContextInfo"
PATH_CALL_TOOL: Final = "/mcp"

# --- §2 envelope --------------------------------------------------------------------------

KEY_SUCCESS: Final = "success"
KEY_CODE: Final = "code"
KEY_MESSAGE: Final = "message"
KEY_HTTP_STATUS: Final = "httpStatusCode"
KEY_REQUEST_ID: Final = "requestId"
KEY_DATA: Final = "data"

CODE_OK: Final = "ok"
CODE_SESSION_NOT_FOUND: Final = "InvalidMcpSession.NotFound"
CODE_TOOL_SESSION_NOT_FOUND: Final = "InvalidSession.NotFound"
SESSION_NOT_FOUND_MESSAGE: Final = "Session not found"

# --- §3 session fields --------------------------------------------------------------------

Q_IMAGE_ID: Final = "imageId"
Q_SDK_STATS: Final = "sdkStats"
Q_SESSION_ID: Final = "sessionId"
Q_MAX_RESULTS: Final = "maxResults"
Q_LABELS: Final = "labels"  # ListSession filter (lower case)
Q_SET_LABELS: Final = "Labels"  # SetLabel (capital L, §3.5)
Q_NEXT_TOKEN: Final = "nextToken"
Q_AUTO_GEN_SESSION: Final = "autoGenSession"

B_SESSION_ID: Final = "sessionId"
B_LABELS: Final = "labels"  # create: a JSON *string* of the label object
B_POLICY_ID: Final = "mcpPolicyId"
B_IDLE_TIMEOUT: Final = "timeout"  # create: idle release timeout in seconds
B_TOOL_ARGS: Final = "args"  # tool call: a JSON *string* of the argument object
B_TOOL_NAME: Final = "name"

# The telemetry object the official 0.12.0 wheel sends on create (compact JSON, §3.1).
SDK_STATS: Final = {
    "source": "sdk",
    "sdk_language": "python",
    "sdk_version": "0.12.0",
    "is_release": True,
}

STATUS_RUNNING: Final = "RUNNING"
STATUS_DELETING: Final = "DELETING"
STATUS_FINISH: Final = "FINISH"
STATUS_DELETED: Final = "DELETED"
GONE_STATUSES: Final = frozenset({STATUS_FINISH, STATUS_DELETING, STATUS_DELETED})

DEFAULT_LIST_LIMIT: Final = 10
# The cloud documents a 300 s default idle release and a 30 min maximum lifetime.
DEFAULT_IDLE_RELEASE_TIMEOUT_S: Final = 300

# --- §4 tools -----------------------------------------------------------------------------

TOOL_RUN_CODE: Final = "run_code"
TOOL_SHELL: Final = "shell"
TOOL_CREATE_DIRECTORY: Final = "create_directory"
TOOL_WRITE_FILE: Final = "write_file"
TOOL_READ_FILE: Final = "read_file"
TOOL_GET_FILE_INFO: Final = "get_file_info"
TOOL_LIST_DIRECTORY: Final = "list_directory"
TOOL_MOVE_FILE: Final = "move_file"
TOOL_DELETE_FILE: Final = "delete_file"
TOOL_EDIT_FILE: Final = "edit_file"
TOOL_SEARCH_FILES: Final = "search_files"
TOOL_READ_MULTIPLE_FILES: Final = "read_multiple_files"
TOOL_GET_FILE_CHANGE: Final = "get_file_change"
TOOL_GET_METRICS: Final = "get_metrics"

# Languages (§4.3): the client canonicalises before sending.
LANGUAGES: Final = ("java", "javascript", "python", "r")
LANGUAGE_ALIASES: Final = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
}

DEFAULT_SHELL_TIMEOUT_MS: Final = 1000  # the official default (§4.4)
DEFAULT_CODE_TIMEOUT_S: Final = 60
SHELL_TIMEOUT_EXIT_CODE: Final = 124  # like GNU timeout (§4.4, §11)

# File chunking (§4.5): writes are measured in characters, reads in bytes.
WRITE_CHUNK_CHARS: Final = 51_200
READ_CHUNK_BYTES: Final = 51_200
WRITE_MODES: Final = ("overwrite", "append")
READ_FORMAT_BINARY: Final = "binary"
NO_MATCHES_TEXT: Final = "No matches found"
MULTI_FILE_SEPARATOR: Final = "\n---\n"
DIR_PREFIX: Final = "[DIR] "
FILE_PREFIX: Final = "[FILE] "


def canonical_language(raw: str) -> str | None:
    """The canonical language for `raw` (trimmed, lower-cased, aliased), or None."""
    name = raw.strip().lower()
    name = LANGUAGE_ALIASES.get(name, name)
    return name if name in LANGUAGES else None


# --- facts AGB Local needs as well (appended; same contract) ------------------------------

PATH_GET_LINK_ASYNC: Final = "/mcp/getLink"  # the low-level async variant (§3.10)

# ListSession puts these next to `data`, at the top level (§3.4).
KEY_NEXT_TOKEN: Final = "nextToken"
KEY_MAX_RESULTS: Final = "maxResults"
KEY_COUNT: Final = "count"

B_PERSISTENCE_LIST: Final = "persistenceDataList"
Q_PROTOCOL_TYPE: Final = "protocolType"
Q_PORT: Final = "port"

# Image id families (DESIGN.md "AGB Local's images"): exact ids and prefixes.
IMAGE_CODE_LATEST: Final = "code_latest"
IMAGE_PREFIX_CODE_SPACE: Final = "agb-code-space-"
IMAGE_PREFIX_BROWSER_USE: Final = "agb-browser-use-"
IMAGE_PREFIX_COMPUTER_USE: Final = "agb-computer-use-"
# The code-space image the official examples and tests use: the SDK's default where one is
# needed (the CLI, the pytest plugin).
DEFAULT_IMAGE: Final = "agb-code-space-2"

# Tools the official SDK calls that need a desktop (the computer module, §4.6).
DESKTOP_TOOLS: Final = frozenset(
    {
        "activate_window",
        "click_mouse",
        "close_window",
        "drag_mouse",
        "focus_mode",
        "fullscreen_window",
        "get_active_window",
        "get_cursor_position",
        "get_installed_apps",
        "get_screen_size",
        "get_ui_elements",
        "input_text",
        "list_root_windows",
        "list_visible_apps",
        "maximize_window",
        "minimize_window",
        "move_mouse",
        "press_keys",
        "release_keys",
        "resize_window",
        "restore_window",
        "screenshot",
        "scroll",
        "start_app",
        "stop_app_by_cmd",
        "stop_app_by_pid",
        "stop_app_by_pname",
        "system_screenshot",
        "tap",
    }
)


# --- §13 contexts, §14 file transfer ------------------------------------------------------
# Every context route takes its parameters in the query string; POSTs send `{}` (§13.1).

PATH_LIST_CONTEXTS: Final = "/sdk/ListContexts"
PATH_GET_CONTEXT: Final = "/sdk/GetContext"  # get, get-or-create, and the clear status
PATH_MODIFY_CONTEXT: Final = "/sdk/ModifyContext"
PATH_DELETE_CONTEXT: Final = "/sdk/DeleteContext"
PATH_CLEAR_CONTEXT: Final = "/sdk/ClearContext"
PATH_DESCRIBE_CONTEXT_FILES: Final = "/sdk/DescribeContextFiles"
PATH_GET_CONTEXT_FILE_UPLOAD_URL: Final = "/sdk/GetContextFileUploadUrl"
PATH_GET_CONTEXT_FILE_DOWNLOAD_URL: Final = "/sdk/GetContextFileDownloadUrl"
PATH_DELETE_CONTEXT_FILE: Final = "/sdk/DeleteContextFile"
PATH_SYNC_CONTEXT: Final = "/sdk/SyncContext"
PATH_GET_AND_LOAD_INTERNAL_CONTEXT: Final = "/sdk/GetAndLoadInternalContext"

Q_ID: Final = "id"  # GetContext, ModifyContext, DeleteContext, ClearContext
Q_NAME: Final = "name"
Q_ALLOW_CREATE: Final = "allowCreate"  # "true" / "false", always sent by GetContext
Q_LOGIN_REGION_ID: Final = "loginRegionId"
Q_CONTEXT_ID: Final = "contextId"
Q_FILE_PATH: Final = "filePath"
Q_PARENT_FOLDER_PATH: Final = "parentFolderPath"
Q_PAGE_NUMBER: Final = "pageNumber"
Q_PAGE_SIZE: Final = "pageSize"
Q_PATH: Final = "path"  # SyncContext, GetContextInfo
Q_MODE: Final = "mode"  # SyncContext: SYNC_UPLOAD or SYNC_DOWNLOAD
Q_TASK_TYPE: Final = "taskType"  # GetContextInfo filter
Q_CONTEXT_TYPES: Final = "contextTypes"  # GetAndLoadInternalContext: a JSON array string

# ListContexts puts these next to its `data` array (§13.2), as ListSession does.
KEY_TOTAL_COUNT: Final = "totalCount"

DEFAULT_CONTEXT_LIST_LIMIT: Final = 10
DEFAULT_FILE_PAGE_SIZE: Final = 50

# A context's `state` (§13.4): `clear()` polls until it reads CONTEXT_AVAILABLE.
CONTEXT_AVAILABLE: Final = "available"
CONTEXT_CLEARING: Final = "clearing"

# createSession's `persistenceDataList` items (§13.6); `policy` is a JSON *string*.
B_PERSISTENCE_CONTEXT_ID: Final = "contextId"
B_PERSISTENCE_PATH: Final = "path"
B_PERSISTENCE_POLICY: Final = "policy"

# The sync policy's JSON (§13.6), in the order SyncPolicy.to_dict() writes it.
POLICY_UPLOAD: Final = "uploadPolicy"  # autoUpload, uploadStrategy, uploadMode
POLICY_DOWNLOAD: Final = "downloadPolicy"  # autoDownload, downloadStrategy
POLICY_DELETE: Final = "deletePolicy"  # syncLocalFile
POLICY_EXTRACT: Final = "extractPolicy"  # extract, deleteSrcFile, extractToCurrentFolder
POLICY_RECYCLE: Final = "recyclePolicy"  # lifecycle, paths
POLICY_BW_LIST: Final = "bwList"  # whiteLists: [{path, excludePaths}]
POLICY_MAPPING: Final = "mappingPolicy"  # path
UPLOAD_STRATEGY_BEFORE_RELEASE: Final = "UploadBeforeResourceRelease"
DOWNLOAD_STRATEGY_ASYNC: Final = "DownloadAsync"
UPLOAD_MODE_FILE: Final = "File"
UPLOAD_MODE_ARCHIVE: Final = "Archive"
LIFECYCLE_FOREVER: Final = "Lifecycle_Forever"
# Lifecycle value -> days a synced file is kept (RecyclePolicy, §13.6).
LIFECYCLE_DAYS: Final = {
    "Lifecycle_1Day": 1,
    "Lifecycle_3Days": 3,
    "Lifecycle_5Days": 5,
    "Lifecycle_10Days": 10,
    "Lifecycle_15Days": 15,
    "Lifecycle_30Days": 30,
    "Lifecycle_90Days": 90,
    "Lifecycle_180Days": 180,
    "Lifecycle_360Days": 360,
}

# Sync tasks (§13.7, §13.8): the mode is the task type; the only terminal statuses.
SYNC_UPLOAD: Final = "upload"  # session -> context (SyncContext's default mode)
SYNC_DOWNLOAD: Final = "download"  # context -> session
TASK_SUCCESS: Final = "Success"
TASK_FAILED: Final = "Failed"

# GetAndLoadInternalContext (§14.1).
CONTEXT_TYPE_FILE_TRANSFER: Final = "file_transfer"
# --- §5.2 the WebSocket streaming channel (AGB Local serves it) ---------------------------

KEY_WS_URL: Final = "wsUrl"  # create/getSession data: where the client streams
KEY_TOKEN: Final = "token"  # create/getSession data: the per-session secret it sends
HEADER_ACCESS_TOKEN: Final = "X-Access-Token"  # the WebSocket handshake carries the token
STREAM_SOURCE_SDK: Final = "SDK"
# The target a client sends when its session's tool list names no server for run_code.
STREAM_DEFAULT_TARGET: Final = "wuying_codespace"
STREAM_METHOD_RUN_CODE: Final = "run_code"
# AGB Local's own addition: `{"invocationId": <a running call>, "data": {"method": "cancel"}}`
# interrupts that call in the sandbox (the official client only forgets a cancelled call).
STREAM_METHOD_CANCEL: Final = "cancel"
PHASE_EVENT: Final = "event"
PHASE_END: Final = "end"
PHASE_ERROR: Final = "error"
STATUS_FINISHED: Final = "finished"
STATUS_FAILED: Final = "failed"

# --- §15 browser sessions, §16.1 links ----------------------------------------------------

PATH_INIT_BROWSER: Final = "/browser/init"
PATH_GET_CDP_LINK: Final = "/internet/getCdpLink"
Q_PERSISTENT_PATH: Final = "persistentPath"  # /browser/init: the browser's profile directory
Q_BROWSER_OPTION: Final = "browserOption"  # /browser/init: JSON text of BrowserOption.to_map()
KEY_PORT: Final = "port"  # /browser/init's data
KEY_URL: Final = "url"  # getCdpLink's and getLink's data
# The official config's paths (agb/config.py): the profile, the fingerprint and extension
# mounts of a BrowserContext (§13.6 items 1-3).
BROWSER_DATA_PATH: Final = "/tmp/agb_browser_data"
BROWSER_FINGERPRINT_PATH: Final = "/tmp/agb_browser_fingerprint"
BROWSER_EXTENSIONS_PATH: Final = "/tmp/extensions/"
# The profile files a BrowserContext keeps (§13.6 item 3).
BROWSER_DATA_WHITELIST: Final = ("/Local State", "/Default/Cookies", "/Default/Cookies-journal")
TOOL_STOP_CHROME: Final = "stopChrome"  # Browser.destroy() (§15.4)
# The browser agent's tools (`session.browser.agent`, out of AGB Local's scope).
BROWSER_AGENT_TOOL_PREFIX: Final = "page_use_"
LINK_PROTOCOLS: Final = ("http", "https", "ws", "wss")  # getLink's protocolType
