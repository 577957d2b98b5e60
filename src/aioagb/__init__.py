"""aioagb: the async-first Python SDK for AGB cloud sandboxes, and AGB Local.

The public names live here; everything else is in private modules.
"""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
