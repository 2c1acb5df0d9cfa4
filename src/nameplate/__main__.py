"""``python -m nameplate``."""

from .cli import main

main()
