"""The release artefacts: `python -m build` makes an sdist and a wheel with complete metadata,
and the wheel installs into a fresh virtual environment whose `aioagb` command runs.

One module-scoped build, because building and installing take most of this file's time.
"""

from __future__ import annotations

import email
import subprocess
import sys
import tarfile
import venv
import zipfile
from email.message import Message
from pathlib import Path

import pytest

import aioagb

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def only(directory: Path, pattern: str) -> Path:
    (found,) = directory.glob(pattern)
    return found


def wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def test_the_wheel_has_complete_metadata(dist: Path) -> None:
    wheel = only(dist, "aioagb-*.whl")
    meta = wheel_metadata(wheel)
    assert meta["Name"] == "aioagb"
    assert meta["Version"] == aioagb.__version__  # one version, read from the package
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["Summary"] and meta["License"] == "Apache-2.0"
    assert "aioagb" in meta.get_payload()  # the README is the long description
    requires = " ".join(meta.get_all("Requires-Dist") or [])
    for core in ("aiohttp", "anyio", "attrs", "stamina", "click"):
        assert core in requires
    extras = set(meta.get_all("Provides-Extra") or [])
    assert {"cli", "docs", "test"} <= extras
    # rich is only for the CLI's terminal output: an extra, not a core dependency.
    core_requires = [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert not any(r.startswith("rich") for r in core_requires)

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "aioagb = aioagb.cli:main" in archive.read(entry_points).decode()
    assert "aioagb/py.typed" in names  # typed for users' mypy
    assert "aioagb/server/sandbox/__init__.py" in names  # AGB Local ships in the wheel
    # ... with its sandbox agent, a package the server copies into every sandbox.
    agent = ROOT / "src" / "aioagb" / "server" / "sandbox" / "agent"
    for module in [*agent.glob("*.py"), *agent.glob("*.js")]:
        assert f"aioagb/server/sandbox/agent/{module.name}" in names
    assert not any(name.startswith(("tests/", "benchmarks/")) for name in names)


def test_the_sdist_holds_the_sources_tests_and_changelog(dist: Path) -> None:
    sdist = only(dist, "aioagb-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "src/aioagb/__init__.py"):
        assert needed in names
    assert any(name.startswith("tests/") for name in names)
    assert not any(".pyc" in name or "__pycache__" in name for name in names)


def test_the_wheel_installs_into_a_fresh_venv_and_runs(dist: Path, tmp_path: Path) -> None:
    wheel = only(dist, "aioagb-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)  # no system site-packages: a user's clean environment
    bin_dir = env_dir / "bin"
    subprocess.run(
        [
            bin_dir / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=400,
    )

    help_run = subprocess.run(
        [bin_dir / "aioagb", "--help"], capture_output=True, text=True, timeout=60
    )
    assert help_run.returncode == 0, help_run.stderr
    for command in ("serve", "run", "exec", "create", "ls", "rm", "demo"):
        assert f"  {command} " in help_run.stdout

    version_run = subprocess.run(
        [bin_dir / "aioagb", "--version"], capture_output=True, text=True, timeout=60
    )
    assert version_run.returncode == 0 and aioagb.__version__ in version_run.stdout

    # The installed package is the wheel's, not this checkout's.
    where = subprocess.run(
        [bin_dir / "python", "-c", "import aioagb.server, aioagb; print(aioagb.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert str(env_dir) in where.stdout

    # The installed server starts a sandbox: its agent package is complete and runs.
    ran = subprocess.run(
        [bin_dir / "python", "-c", SANDBOX_SMOKE], capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "42"


SANDBOX_SMOKE = """
import os, shutil, tempfile, anyio
from pathlib import Path
from aioagb.server.sandbox import make_backend

async def main():
    root = Path(tempfile.mkdtemp(prefix="aioagb-wheel-", dir="/tmp"))
    os.chmod(root, 0o711)  # the plain fallback's session uids must reach it
    backend = make_backend(root)
    try:
        sandbox = await backend.create("wheel")
        run = await sandbox.run_code("6 * 7", "python", 60)
        print(run.results[0]["text/plain"])
    finally:
        await backend.aclose()
        shutil.rmtree(root)

anyio.run(main)
"""
