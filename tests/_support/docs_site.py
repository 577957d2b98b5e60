"""Helpers for the documentation tests: build the site, load the mkdocs hooks by path."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).parents[2]


def load_hook(name: str) -> ModuleType:
    """docs/hooks/NAME.py, imported as mkdocs imports it: by path, not as a package."""
    path = ROOT / "docs" / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_site(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of the project at `project` into `site`, as scripts/test runs it."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    argv = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=300)


def project_copy(into: Path) -> Path:
    """A copy of the docs and mkdocs.yml to change, the rest of the checkout linked in."""
    into.mkdir()
    for entry in ROOT.iterdir():
        if entry.name in {"docs", "mkdocs.yml", ".git", ".venv", "site"}:
            continue
        (into / entry.name).symlink_to(entry)
    shutil.copytree(ROOT / "docs", into / "docs")
    shutil.copy(ROOT / "mkdocs.yml", into / "mkdocs.yml")
    return into
