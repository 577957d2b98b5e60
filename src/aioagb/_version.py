"""The version of aioagb: the one place to bump it (pyproject reads it from here)."""

__version__ = "0.1.0.dev0"
