"""Options shared by several commands (one definition, one help text)."""

from __future__ import annotations

import click

__all__ = ["output_format"]

#: ``-o/--output text|json``: human text, or JSON for scripts.
output_format = click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
