"""Where the client's API key, endpoint and request timeout come from.

Precedence, for each value on its own: the constructor argument, then the environment
(`AGB_API_KEY`, `AGB_ENDPOINT`, `AGB_TIMEOUT_MS`), then a `.env` file in the working directory,
then the default. Unlike the official SDK (agb-wire.md §1.2), `.env` is read *before* the key is
looked up, so a key that lives only in `.env` is found on the first construction; and it is
read without touching `os.environ`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import attrs
from dotenv import dotenv_values

from . import _protocol as p
from .errors import ConfigurationError

DEFAULT_REQUEST_TIMEOUT_S = p.DEFAULT_TIMEOUT_MS / 1000


@attrs.frozen(slots=True)
class ClientConfig:
    """The resolved settings of one client. `api_key` is hidden from the repr."""

    api_key: str = attrs.field(repr=False)
    endpoint: str  # normalised base URL, scheme included, no trailing slash
    request_timeout_s: float


def normalise_endpoint(endpoint: str) -> str:
    """`host[:port][/prefix]` -> `https://host[:port][/prefix]`; an explicit scheme is kept.

    The official client joins base URL and path by string concatenation (§1.1), so a trailing
    slash would give `//mcp/...`; we drop it instead.
    """
    endpoint = endpoint.strip()
    if not endpoint:
        raise ConfigurationError("The endpoint is empty.")
    if not endpoint.startswith(("http://", "https://")):
        endpoint = "https://" + endpoint
    return endpoint.rstrip("/")


def _read_dotenv(path: Path) -> Mapping[str, str | None]:
    return dotenv_values(path) if path.is_file() else {}


def _first(*candidates: str | None) -> str | None:
    """The first candidate that is set and not blank (an empty variable is ignored, §1.1)."""
    for value in candidates:
        if value is not None and value.strip():
            return value.strip()
    return None


def resolve(
    api_key: str | None,
    endpoint: str | None,
    timeout: float | None,
    *,
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
) -> ClientConfig:
    """Resolve the client's settings; raises ConfigurationError naming what is missing."""
    env = os.environ if environ is None else environ
    dotenv = _read_dotenv(dotenv_path if dotenv_path is not None else Path.cwd() / ".env")

    key = _first(api_key, env.get(p.ENV_API_KEY), dotenv.get(p.ENV_API_KEY))
    if key is None:
        raise ConfigurationError(
            f"No API key: pass api_key=..., or set the {p.ENV_API_KEY} environment variable "
            "(or put it in a .env file in the working directory)."
        )
    base = _first(endpoint, env.get(p.ENV_ENDPOINT), dotenv.get(p.ENV_ENDPOINT))
    return ClientConfig(
        api_key=key,
        endpoint=normalise_endpoint(base or p.DEFAULT_ENDPOINT),
        request_timeout_s=_resolve_timeout(timeout, env, dotenv),
    )


def _resolve_timeout(
    timeout: float | None, env: Mapping[str, str], dotenv: Mapping[str, str | None]
) -> float:
    if timeout is None:
        raw_ms = _first(env.get(p.ENV_TIMEOUT_MS), dotenv.get(p.ENV_TIMEOUT_MS))
        if raw_ms is None:
            return DEFAULT_REQUEST_TIMEOUT_S
        try:
            timeout = int(raw_ms) / 1000
        except ValueError:
            raise ConfigurationError(
                f"{p.ENV_TIMEOUT_MS} must be an integer number of milliseconds, got {raw_ms!r}."
            ) from None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ConfigurationError(f"timeout must be a number of seconds, got {timeout!r}.")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ConfigurationError(f"timeout must be a positive number of seconds, got {timeout}.")
    return float(timeout)
