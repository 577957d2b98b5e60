"""AGB Local: an aiohttp.web server that speaks the AGB protocol and runs each session in a
sandbox on this machine."""
