"""The `links` mkdocs hook: `§N.M` and `docs/PAGE.md` in running text become links, to the
protocol page's section and to the page, relative to the page they are on."""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from _support.docs_site import load_hook

links = load_hook("links")


def href(kind: str, target: str) -> str | None:
    if kind == "page":
        return {"sdk.md": "../sdk/"}.get(target)
    return {"5.2": "../protocol/#52-streaming"}.get(target)


# A section the protocol does not have (spelled so that tests/cli/test_protocol_doc.py, which
# checks every section reference of the sources, does not take it for one).
NO_SECTION = "\N{SECTION SIGN}9.9"


def test_references_in_running_text_become_links() -> None:
    html = f"<p>The stream (§5.2); see docs/sdk.md and docs/nowhere.md, not {NO_SECTION}.</p>"
    assert links.link_references(html, href) == (
        '<p>The stream (<a href="../protocol/#52-streaming">§5.2</a>); see '
        f'<a href="../sdk/">docs/sdk.md</a> and docs/nowhere.md, not {NO_SECTION}.</p>'
    )


def test_code_blocks_and_existing_links_are_left_as_written() -> None:
    html = (
        "<pre><code>x = 1  # §5.2</code></pre><p><code>§5.2</code> "
        '<a href="x">§5.2 <em>docs/sdk.md</em></a> <span>§5.2</span></p>'
    )
    linked = links.link_references(html, href)
    assert linked.count("<a ") == 2  # the one already there, and the one in the <span>
    assert linked.endswith('<span><a href="../protocol/#52-streaming">§5.2</a></span></p>')


@attrs.frozen
class TocItem:
    title: str
    id: str
    children: list[TocItem] = attrs.Factory(list)


def test_section_anchors_come_from_the_protocol_page_s_headings() -> None:
    toc = [
        TocItem("The AGB wire protocol", "top", [TocItem("5. Tool calls", "5-tool-calls")]),
        TocItem("5.2 WebSocket streaming (&lt;code&gt;)", "52-websocket", []),
        TocItem("Appendix", "appendix", []),
    ]
    assert links.section_anchors(toc) == {"5": "5-tool-calls", "5.2": "52-websocket"}


def test_the_built_reference_links_sections_to_the_protocol_page(site: Path) -> None:
    api = (site / "api" / "index.html").read_text()
    protocol = (site / "protocol" / "index.html").read_text()
    targets = re.findall(r'<a href="\.\./protocol/#([^"]+)">§5\.2</a>', api)
    assert targets and all(f'id="{anchor}"' in protocol for anchor in targets)
    assert '<a href="../sdk/">docs/sdk.md</a>' in api
    # On the protocol page itself, a section reference is a link within the page.
    assert re.search(r'<a href="#[^"]+">§4\.2</a>', protocol)
