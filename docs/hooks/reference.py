"""mkdocs hook: the API reference (docs/api.md) is complete, or the strict build fails.

It walks `aioagb.__all__` (and the exceptions of `aioagb.errors`) and each public class's own
methods, properties and attrs fields, and looks for the anchor mkdocstrings gives each of
them (`id="aioagb.AsyncAGB.create"`) in the built page. A name that is another public name's
alias (`CodeModule` is `Code`) needs only to be mentioned. tests/docs/test_api_reference.py
builds the site and checks the same; `missing_from_reference` is the one check both use.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Iterator
from typing import Any

import attrs

import aioagb
import aioagb.errors

log = logging.getLogger("mkdocs.hooks.reference")  # under "mkdocs": --strict counts it
REFERENCE_PAGE = "api.md"
ANCHOR = re.compile(r'\bid="(aioagb\.[\w.]+)"')


def public_objects() -> Iterator[tuple[str, object]]:
    """(name, object) for every public name of `aioagb` and every exception of `aioagb.errors`."""
    for name in aioagb.__all__:
        yield name, getattr(aioagb, name)
    for name, obj in vars(aioagb.errors).items():
        if not name.startswith("_") and inspect.isclass(obj) and obj.__module__ == "aioagb.errors":
            yield name, obj


def own_members(cls: type) -> list[str]:
    """The public methods, properties and attrs fields that `cls` itself defines (what the
    reference renders under it; inherited members are documented on their own class)."""
    names = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property | classmethod | staticmethod) or inspect.isfunction(member):
            names.append(name)
    if attrs.has(cls):
        fields: tuple[Any, ...] = cls.__attrs_attrs__
        names += [f.name for f in fields if not f.inherited and not f.name.startswith("_")]
    return list(dict.fromkeys(names))


def missing_from_reference(page_html: str) -> list[str]:
    """What the rendered reference page lacks: public names, then `Class.member`s."""
    anchors = set(ANCHOR.findall(page_html))
    missing: list[str] = []
    for name, obj in public_objects():
        canonical = getattr(obj, "__name__", name)
        if inspect.isclass(obj) and canonical != name and canonical in aioagb.__all__:
            # Another name of a documented class (an older or the official SDK's name).
            if f"aioagb.{name}" not in anchors and f"<code>{name}</code>" not in page_html:
                missing.append(name)
            continue
        paths = [f"aioagb.{name}", f"aioagb.errors.{name}"]
        found = next((path for path in paths if path in anchors), None)
        if found is None:
            missing.append(name)
        elif inspect.isclass(obj):
            missing += [f"{name}.{m}" for m in own_members(obj) if f"{found}.{m}" not in anchors]
    return list(dict.fromkeys(missing))


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Fail the strict build (a warning) when the reference page misses a public name."""
    if page.file.src_uri == REFERENCE_PAGE:
        missing = missing_from_reference(output)
        if missing:
            log.warning(
                "%s lacks public names of aioagb (add a `::: aioagb.NAME` block, or "
                "document the member): %s",
                REFERENCE_PAGE,
                ", ".join(missing),
            )
    return output
