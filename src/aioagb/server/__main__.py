"""`python -m aioagb.server`: the same as `aioagb serve`."""

from ..cli import serve

if __name__ == "__main__":
    serve(prog_name="python -m aioagb.server")
