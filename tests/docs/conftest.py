"""The documentation site, built once for the tests of this folder (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from _support.docs_site import ROOT, build_site


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `mkdocs build --strict` makes it from the checkout."""
    built = tmp_path_factory.mktemp("site")
    done = build_site(ROOT, built)
    assert done.returncode == 0, done.stderr[-3000:]
    return built
