"""The two failures the agent answers as results instead of crashing: bad file input, and a
capability this sandbox does not have."""

from __future__ import annotations


class FileError(Exception):
    """A file tool failed because of its input; the message goes back to the user."""


class Unavailable(Exception):
    """This sandbox cannot do that at all (e.g. a missing runtime)."""
