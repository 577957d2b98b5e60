"""transfer: a large file up to AGB Local and back down, streamed, and the client's memory.

The client runs in a process of its own (`python3 -m benchmarks.transfer ENDPOINT SIZE`), so
its peak RSS (`ru_maxrss`) is the transfer's alone, and is compared with its RSS just before
the first byte moved: the SDK streams in 1 MiB chunks, so the difference must not grow with
the file. Two paths are timed:

* `agb.context.upload_file` / `download_file`: PUT and GET of a pre-signed URL, the client's
  streaming and the server's store, nothing else;
* `session.file.upload` / `download`: the same plus the syncs of §14 (the server copies the
  file into the session, and back out into the transfer context).

The file is random bytes, written to a temporary directory (removed afterwards).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from aioagb import AsyncAGB, CreateSessionParams

from ._server import _ROOT, ServerProcess

IMAGE = "agb-code-space-2"
WRITE_CHUNK = 1024 * 1024


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _current_rss_bytes() -> int:
    status = Path("/proc/self/status").read_text(encoding="utf-8")
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def _make_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(WRITE_CHUNK, left))
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(WRITE_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


async def _timed(operation: Any) -> float:
    started = time.perf_counter()
    result = await operation
    if not result.success:
        raise RuntimeError(result.error_message)
    return time.perf_counter() - started


async def _client(endpoint: str, api_key: str, size: int, folder: Path) -> dict[str, Any]:
    source = folder / "source.bin"
    expected = _make_file(source, size)
    async with AsyncAGB(api_key, endpoint=endpoint, timeout=300) as agb:
        context = await agb.context.create("bench-transfer")
        if not context.success:
            raise RuntimeError(context.error_message)
        async with agb.session(CreateSessionParams(image_id=IMAGE)) as session:
            transfer = await session.file.transfer_path()
            rss_before = _current_rss_bytes()
            times = {
                "context_upload_s": await _timed(
                    agb.context.upload_file(context.context_id, "/data/big.bin", source)
                ),
                "context_download_s": await _timed(
                    agb.context.download_file(
                        context.context_id, "/data/big.bin", folder / "from_context.bin"
                    )
                ),
                "session_upload_s": await _timed(
                    session.file.upload(source, f"{transfer}/big.bin", wait_timeout=600)
                ),
                "session_download_s": await _timed(
                    session.file.download(
                        f"{transfer}/big.bin", folder / "from_session.bin", wait_timeout=600
                    )
                ),
            }
            peak = _peak_rss_bytes()  # before the checks below read the copies
        await agb.context.delete(context.context)  # type: ignore[arg-type]
    for copy in ("from_context.bin", "from_session.bin"):
        if _sha256(folder / copy) != expected:
            raise RuntimeError(f"{copy} differs from the file sent")
    return {
        "bytes": size,
        **times,
        "rss_before_transfers_bytes": rss_before,
        "peak_rss_bytes": peak,
    }


def run(server: ServerProcess, size: int) -> dict[str, Any]:
    """Run the client in its own process against `server`; its numbers, with throughputs."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")])),
    }
    env["BENCH_API_KEY"] = server.api_key
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.transfer", server.endpoint, str(size)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the transfer client failed:\n{done.stdout}\n{done.stderr}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("context_upload", "context_download", "session_upload", "session_download"):
        out[f"{name}_mb_s"] = size / 1e6 / out[f"{name}_s"]
    out["rss_growth_bytes"] = out["peak_rss_bytes"] - out["rss_before_transfers_bytes"]
    return out


def main() -> None:
    endpoint, size = sys.argv[1], int(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="aioagb-bench-") as folder:
        result = anyio.run(_client, endpoint, os.environ["BENCH_API_KEY"], size, Path(folder))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
