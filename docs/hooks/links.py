"""mkdocs hook: `§5.2` and `docs/sdk.md` in rendered pages become links.

The docstrings (rendered into the API reference) and the pages cite the wire protocol by its
stable section numbers (`§5.2`, docs/protocol.md) and other pages by path (`see docs/sdk.md`).
In the built site each `§N.M` links to that section of the protocol page, and each
`docs/PAGE.md` to that page, relative to the page they are on. Only running text is changed:
code, code blocks and existing links stay as written. A `§` that names no section of the
protocol is a warning, so the strict build fails on it (tests/docs/test_links_hook.py).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.links")  # under "mkdocs": --strict counts it
PROTOCOL_PAGE = "protocol.md"
SECTION_TITLE = re.compile(r"^(\d+(?:\.\d+)?)[. ]")  # "5.2 WebSocket streaming ..."
REFERENCE = re.compile(r"§(\d+(?:\.\d+)?)|\bdocs/([\w/-]+\.md)\b")
TAG = re.compile(r"(<[^>]*>)")
TAG_NAME = re.compile(r"<\s*(/?)\s*([a-zA-Z0-9]+)")
# Text inside these is left as written: links already, code, and what is not shown as text.
KEEP = frozenset({"a", "code", "pre", "script", "style", "textarea", "title"})

sections: dict[str, str] = {}  # "5.2" -> the heading's anchor on the protocol page
page_urls: dict[str, str] = {}  # "sdk.md" -> "sdk/"


def section_anchors(toc: Iterable[Any]) -> dict[str, str]:
    """Section number -> anchor id, from the protocol page's table of contents."""
    found: dict[str, str] = {}
    for item in toc:
        match = SECTION_TITLE.match(html.unescape(item.title))
        if match:
            found[match.group(1)] = item.id
        found.update(section_anchors(item.children))
    return found


def link_references(page_html: str, href: Callable[[str, str], str | None]) -> str:
    """`page_html` with every reference in running text made a link. `href(kind, target)`
    gives the URL for a section ("section", "5.2") or a page ("page", "sdk.md"), or None to
    leave that reference as it is."""

    def replace(match: re.Match[str]) -> str:
        kind, target = ("section", match[1]) if match[1] else ("page", match[2])
        url = href(kind, target)
        return match[0] if url is None else f'<a href="{html.escape(url)}">{match[0]}</a>'

    kept: list[str] = []  # the KEEP elements we are inside, innermost last
    parts = TAG.split(page_html)
    for index, part in enumerate(parts):
        if index % 2:  # a tag
            opened = TAG_NAME.match(part)
            if opened is None or part.endswith("/>"):
                continue
            closing, name = opened[1] == "/", opened[2].lower()
            if name in KEEP:
                if closing and name in kept:
                    del kept[len(kept) - 1 - kept[::-1].index(name) :]
                elif not closing:
                    kept.append(name)
        elif not kept and ("§" in part or "docs/" in part):
            parts[index] = REFERENCE.sub(replace, part)
    return "".join(parts)


def on_files(files: Any, config: Any) -> Any:
    """Remember where each page will be, for `docs/PAGE.md` links."""
    page_urls.clear()
    for file in files.documentation_pages():
        page_urls[file.src_uri] = file.url
    return files


def on_page_content(page_html: str, page: Any, config: Any, files: Any) -> str:
    """Read the protocol's section anchors from its table of contents. Every page's content
    is rendered before any page is written, so `on_post_page` has them all."""
    if page.file.src_uri == PROTOCOL_PAGE:
        sections.clear()
        sections.update(section_anchors(page.toc))
    return page_html


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Link the page's `§N.M` and `docs/PAGE.md` references."""

    def href(kind: str, target: str) -> str | None:
        if kind == "page":
            url = page_urls.get(target)
            return None if url is None else get_relative_url(url, page.url)
        anchor = sections.get(target)
        if anchor is None:
            log.warning("%s: §%s names no section of %s", page.file.src_uri, target, PROTOCOL_PAGE)
            return None
        protocol = page_urls.get(PROTOCOL_PAGE, "")
        here = "" if page.file.src_uri == PROTOCOL_PAGE else get_relative_url(protocol, page.url)
        return f"{here}#{anchor}"

    return link_references(output, href)
