"""AGB Local: an aiohttp.web server that speaks the AGB protocol and runs each session in a
sandbox on this machine."""

from .app import build_app
from .config import ServerConfig, collect_api_keys
from .runner import LocalServer

__all__ = ["LocalServer", "ServerConfig", "build_app", "collect_api_keys"]
