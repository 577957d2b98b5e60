"""Sync policies (agb-wire.md §13.6): the same JSON and the same validation as the official
SDK's `agb.context_sync`, which is installed next to aioagb and used here as the oracle; and
how `CreateSessionParams(context_syncs=...)` reaches createSession's `persistenceDataList`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import agb.context_sync as official
import pytest

from _support.mock_wire import Wire
from aioagb import (
    AsyncAGB,
    BWList,
    ContextSync,
    CreateSessionParams,
    DeletePolicy,
    DownloadPolicy,
    DownloadStrategy,
    ExtractPolicy,
    InvalidArgumentError,
    Lifecycle,
    MappingPolicy,
    RecyclePolicy,
    SyncPolicy,
    UploadMode,
    UploadPolicy,
    UploadStrategy,
    WhiteList,
)

IMAGE = "agb-code-space-2"

# §13.6: what `SyncPolicy()` gives, verbatim (one line on the wire).
DEFAULT_POLICY_TEXT = (
    '{"uploadPolicy": {"autoUpload": true, "uploadStrategy": "UploadBeforeResourceRelease", '
    '"uploadMode": "File"}, "downloadPolicy": {"autoDownload": true, "downloadStrategy": '
    '"DownloadAsync"}, "deletePolicy": {"syncLocalFile": true}, "extractPolicy": {"extract": '
    'true, "deleteSrcFile": true, "extractToCurrentFolder": false}, "recyclePolicy": '
    '{"lifecycle": "Lifecycle_Forever", "paths": [""]}, "bwList": {"whiteLists": []}}'
)


def test_default_policy_is_the_spec_text() -> None:
    """§13.6: key order, default separators, every sub-policy filled with its defaults."""
    assert json.dumps(SyncPolicy().to_dict(), ensure_ascii=False) == DEFAULT_POLICY_TEXT
    assert SyncPolicy(upload_policy=None, bw_list=None) == SyncPolicy()  # None -> defaults


# Each pair builds the same policy with aioagb and with the official SDK.
PAIRS: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
    "defaults": (SyncPolicy, official.SyncPolicy),
    "archive_no_auto_upload": (
        lambda: SyncPolicy(upload_policy=UploadPolicy(False, upload_mode=UploadMode.ARCHIVE)),
        lambda: official.SyncPolicy(
            upload_policy=official.UploadPolicy(False, upload_mode=official.UploadMode.ARCHIVE)
        ),
    ),
    "every_field": (
        lambda: SyncPolicy(
            UploadPolicy(True, UploadStrategy.UPLOAD_BEFORE_RESOURCE_RELEASE, UploadMode.FILE),
            DownloadPolicy(False, DownloadStrategy.DOWNLOAD_ASYNC),
            DeletePolicy(sync_local_file=False),
            ExtractPolicy(extract=False, delete_src_file=False, extract_current_folder=True),
            RecyclePolicy(Lifecycle.LIFECYCLE_30DAYS, ["logs", "tmp/cache"]),
            BWList([WhiteList("/Default/Cookies", ["/Default/Cache"]), WhiteList("état")]),
            MappingPolicy("/tmp/mapping"),
        ),
        lambda: official.SyncPolicy(
            official.UploadPolicy(
                True,
                official.UploadStrategy.UPLOAD_BEFORE_RESOURCE_RELEASE,
                official.UploadMode.FILE,
            ),
            official.DownloadPolicy(False, official.DownloadStrategy.DOWNLOAD_ASYNC),
            official.DeletePolicy(sync_local_file=False),
            official.ExtractPolicy(
                extract=False, delete_src_file=False, extract_current_folder=True
            ),
            official.RecyclePolicy(official.Lifecycle.LIFECYCLE_30DAYS, ["logs", "tmp/cache"]),
            official.BWList(
                [
                    official.WhiteList("/Default/Cookies", ["/Default/Cache"]),
                    official.WhiteList("état"),
                ]
            ),
            official.MappingPolicy("/tmp/mapping"),
        ),
    ),
    "mapping_default": (
        lambda: SyncPolicy(mapping_policy=MappingPolicy.default()),
        lambda: official.SyncPolicy(mapping_policy=official.MappingPolicy.default()),
    ),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_to_dict_matches_the_official_sdk(name: str) -> None:
    ours, theirs = PAIRS[name]
    assert ours().to_dict() == theirs().to_dict()
    assert json.dumps(ours().to_dict(), ensure_ascii=False) == json.dumps(
        theirs().to_dict(), ensure_ascii=False
    )


@pytest.mark.parametrize("lifecycle", list(Lifecycle))
def test_every_lifecycle_value_is_the_official_one(lifecycle: Lifecycle) -> None:
    theirs = official.Lifecycle[lifecycle.name]
    assert RecyclePolicy(lifecycle).to_dict() == official.RecyclePolicy(theirs).to_dict()


# (aioagb call, official call): both must fail with the same message.
SAME_ERRORS: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
    "upload_mode": (
        lambda: UploadPolicy(upload_mode="Zip"),
        lambda: official.UploadPolicy(upload_mode="Zip"),
    ),
    "lifecycle_7days": (  # the docs' LIFECYCLE_7DAYS does not exist
        lambda: RecyclePolicy(lifecycle="Lifecycle_7Days"),
        lambda: official.RecyclePolicy(lifecycle="Lifecycle_7Days"),
    ),
    "recycle_wildcard": (
        lambda: RecyclePolicy(paths=["logs/*.txt"]),
        lambda: official.RecyclePolicy(paths=["logs/*.txt"]),
    ),
    "recycle_brackets": (
        lambda: RecyclePolicy(paths=["", "a[0]"]),
        lambda: official.RecyclePolicy(paths=["", "a[0]"]),
    ),
    "white_list_path": (lambda: WhiteList(path="a?b"), lambda: official.WhiteList(path="a?b")),
    "white_list_exclude": (
        lambda: WhiteList(path="/d", exclude_paths=["/d/*"]),
        lambda: official.WhiteList(path="/d", exclude_paths=["/d/*"]),
    ),
}


@pytest.mark.parametrize("name", list(SAME_ERRORS))
def test_validation_messages_are_the_official_ones(name: str) -> None:
    ours, theirs = SAME_ERRORS[name]
    with pytest.raises(ValueError) as official_error:
        theirs()
    with pytest.raises(InvalidArgumentError) as error:
        ours()
    assert str(error.value) == str(official_error.value)
    assert isinstance(error.value, ValueError)  # what the official policies raise


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: UploadPolicy(auto_upload="yes"), "auto_upload must be a bool"),
        (lambda: DownloadPolicy(auto_download=1), "auto_download must be a bool"),
        (lambda: DeletePolicy(sync_local_file=None), "sync_local_file must be a bool"),
        (lambda: ExtractPolicy(extract_current_folder=0), "extract_current_folder must be"),
        (lambda: UploadPolicy(upload_strategy="Later"), "Invalid upload_strategy value: Later"),
        (lambda: DownloadPolicy(download_strategy="Sync"), "Invalid download_strategy value"),
        (lambda: RecyclePolicy(paths="logs"), "paths must be a list of paths"),
        (lambda: WhiteList(exclude_paths=[1]), "exclude_paths[] must be a string"),
        (lambda: BWList(white_lists=[{"path": "/a"}]), "white_lists must hold WhiteList"),
        (lambda: SyncPolicy(upload_policy=DownloadPolicy()), "upload_policy must be a"),
        (lambda: ContextSync("", "/data"), "context_id is required"),
        (lambda: ContextSync("ctx", " "), "path is required"),
        (lambda: ContextSync("ctx", "/data", policy={}), "policy must be a SyncPolicy"),
        (lambda: CreateSessionParams(image_id=IMAGE, context_syncs="c"), "context_syncs must"),
        (
            lambda: CreateSessionParams(image_id=IMAGE, context_syncs=[("c", "/d")]),
            "context_syncs must hold ContextSync objects",
        ),
    ],
)
def test_bad_policies_are_refused_when_built(build: Callable[[], Any], message: str) -> None:
    """What the official SDK does not check but the wire cannot carry: refused too."""
    with pytest.raises(InvalidArgumentError, match=message.replace("[", r"\[")):
        build()


def test_enums_also_accept_their_wire_value() -> None:
    """A deliberate leniency: the official SDK refuses "Archive" while saying it is valid."""
    assert UploadPolicy(upload_mode="Archive").upload_mode is UploadMode.ARCHIVE
    assert RecyclePolicy(lifecycle="Lifecycle_1Day").lifecycle is Lifecycle.LIFECYCLE_1DAY


def test_context_sync_new_and_with_policy() -> None:
    """`ContextSync.new` as the official one; `with_policy` returns a copy (frozen)."""
    bare = ContextSync.new("ctx-1", "/home/data")
    assert (bare.context_id, bare.path, bare.policy) == ("ctx-1", "/home/data", None)
    policy = SyncPolicy(upload_policy=UploadPolicy(auto_upload=False))
    chained = ContextSync.new("ctx-1", "/home/data").with_policy(policy)
    assert chained.policy == policy and bare.policy is None
    assert ContextSync.new("ctx-1", "/home/data", policy) == chained


# --- createSession's persistenceDataList (§3.1, §13.6) -----------------------------------------


async def test_create_sends_persistence_list_first_and_waits_for_the_download(
    wire: Wire, agb: AsyncAGB
) -> None:
    """§3.1/§13.6: one item per ContextSync with a policy, `policy` a JSON *string*
    (non-ASCII kept inside, escaped by the outer body, §1.4); a sync without a policy is
    dropped. Body keys in the official order: persistenceDataList, labels. Then the wait:
    GetContextInfo?sessionId until every task is terminal."""
    policy = SyncPolicy(bw_list=BWList([WhiteList("données")]))
    syncs = [
        ContextSync("ctx-a", "/home/a", policy),
        ContextSync("ctx-b", "/home/b"),  # no policy: mounts nothing
        ContextSync.new("ctx-c", "/home/c", SyncPolicy()),
    ]
    wire.ok("POST", "/mcp/createSession", {"sessionId": "s-1"})
    running = [
        {"contextId": "ctx-a", "path": "/home/a", "status": "Running", "taskType": "download"}
    ]
    done = [{**running[0], "status": "Success"}, {**running[0], "status": "Failed"}]
    wire.ok("GET", "/sdk/GetContextInfo", _status(running))
    wire.ok("GET", "/sdk/GetContextInfo", _status(done))

    result = await agb.create(CreateSessionParams(image_id=IMAGE, context_syncs=syncs))

    assert result.success  # a Failed download does not fail the create (§13.6)
    create, *polls = wire.sent
    body = create.json()
    assert list(body) == ["persistenceDataList", "labels"]
    assert body["persistenceDataList"] == [
        {
            "contextId": "ctx-a",
            "path": "/home/a",
            "policy": json.dumps(policy.to_dict(), ensure_ascii=False),
        },
        {"contextId": "ctx-c", "path": "/home/c", "policy": DEFAULT_POLICY_TEXT},
    ]
    assert b"donn\\\\u00e9es" not in create.body and b"donn\\u00e9es" in create.body
    assert [(s.method, s.path, s.query) for s in polls] == [
        ("GET", "/sdk/GetContextInfo", "sessionId=s-1")
    ] * 2
    assert result.session is not None
    assert [s.context_id for s in result.session.context_syncs] == ["ctx-a", "ctx-c"]


async def test_create_without_a_mounting_sync_sends_no_list_and_does_not_wait(
    wire: Wire, agb: AsyncAGB
) -> None:
    wire.ok("POST", "/mcp/createSession", {"sessionId": "s-1"})
    params = CreateSessionParams(image_id=IMAGE, context_syncs=[ContextSync("ctx", "/d")])
    assert (await agb.create(params)).success
    [create] = wire.sent
    assert "persistenceDataList" not in create.json()


def _status(tasks: list[dict[str, Any]]) -> dict[str, str]:
    """GetContextInfo `data` (§13.7): JSON text of [{type: data, data: <JSON text>}]."""
    return {"contextStatus": json.dumps([{"type": "data", "data": json.dumps(tasks)}])}
