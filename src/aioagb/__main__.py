"""`python -m aioagb` runs the command line."""

from .cli import main

main()
