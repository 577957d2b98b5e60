"""The protocol ships with the code: every `§N` / `§N.M` reference in the sources, the tests
and the docs names a section of docs/protocol.md, the contract both halves implement."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
PROTOCOL = ROOT / "docs" / "protocol.md"
SECTION_HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", flags=re.M)
REFERENCE = re.compile(r"§(\d+(?:\.\d+)?)")


def referring_files() -> list[Path]:
    """Every file of ours that may cite the protocol by section."""
    found = [*ROOT.glob("src/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("docs/**/*.md")]
    return [path for path in found if path != PROTOCOL]


def test_every_section_reference_resolves() -> None:
    sections = set(SECTION_HEADING.findall(PROTOCOL.read_text()))
    assert {"0", "1.4", "3.4", "4.5", "16.3"} <= sections
    dangling = {
        f"{path.relative_to(ROOT)}: §{ref}"
        for path in referring_files()
        for ref in REFERENCE.findall(path.read_text())
        if ref not in sections
    }
    assert not dangling, sorted(dangling)
