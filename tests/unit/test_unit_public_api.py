"""The public API is documented: the API reference (docs/api.md) is generated from the
docstrings, so an object without one is missing from it."""

from __future__ import annotations

import inspect

import aioagb
import aioagb.errors


def public_objects() -> dict[str, object]:
    found: dict[str, object] = {}
    modules = [(aioagb, aioagb.__all__), (aioagb.errors, dir(aioagb.errors))]
    for module, names in modules:
        for name in names:
            obj = getattr(module, name)
            if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if inspect.isclass(obj) and obj.__module__.split(".")[0] != "aioagb":
                continue
            found[f"{obj.__module__}.{obj.__qualname__}"] = obj
            if inspect.isclass(obj):
                for member_name, member in vars(obj).items():
                    if member_name.startswith("_"):
                        continue
                    target = member.fget if isinstance(member, property) else member
                    if inspect.isfunction(target):
                        found[f"{obj.__module__}.{obj.__qualname__}.{member_name}"] = target
    return found


def test_every_public_class_function_and_method_has_a_docstring() -> None:
    objects = public_objects()
    assert len(objects) > 100  # the walk found the API
    missing = sorted(name for name, obj in objects.items() if not (obj.__doc__ or "").strip())
    assert missing == []
