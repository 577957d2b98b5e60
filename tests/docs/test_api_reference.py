"""The API reference (docs/api.md) is complete: every public name of aioagb, and every public
method, property and field of its classes, has its entry in the built page, and the strict
docs build fails when one is missing (the `reference` hook)."""

from __future__ import annotations

import re
from pathlib import Path

import aioagb
from _support.docs_site import build_site, load_hook, project_copy

reference = load_hook("reference")


def test_every_public_name_and_member_is_in_the_built_reference(site: Path) -> None:
    page = (site / "api" / "index.html").read_text()
    assert reference.missing_from_reference(page) == []
    # The walk is the API, not a handful of names: a few of those it must have looked for.
    anchors = set(reference.ANCHOR.findall(page))
    for path in [
        "aioagb.AsyncAGB.create",
        "aioagb.Code.stream",
        "aioagb.CodeStream",
        "aioagb.StdoutEvent",
        "aioagb.SessionMetricsResult",
        "aioagb.MockTransport",
        "aioagb.errors.ConnectError",
        "aioagb.__version__",
    ]:
        assert path in anchors
    assert len(anchors) > 300
    assert {name for name, _ in reference.public_objects()} >= set(aioagb.__all__)


def test_members_without_a_docstring_are_rendered_too(site: Path) -> None:
    """mkdocstrings leaves those out by default (`show_if_no_docstring`)."""
    page = (site / "api" / "index.html").read_text()
    assert 'id="aioagb.RetryPolicy.attempts"' in page  # an attrs field, no docstring


def test_the_strict_build_fails_when_a_public_name_is_missing(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    api = project / "docs" / "api.md"
    trimmed = re.sub(r"^::: aioagb\.CodeStream\n", "", api.read_text(), flags=re.M)
    assert trimmed != api.read_text()
    api.write_text(trimmed)
    done = build_site(project, tmp_path / "site")
    assert done.returncode != 0
    assert "api.md lacks public names of aioagb" in done.stderr
    assert re.search(r"lacks public names.*: CodeStream\b", done.stderr), done.stderr[-2000:]
