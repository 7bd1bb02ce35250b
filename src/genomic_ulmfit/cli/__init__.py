"""Command-line interface: ``genomic-ulmfit`` (also ``python -m genomic_ulmfit``)."""

from __future__ import annotations

import os
import sys

# Command modules register themselves on import.
from genomic_ulmfit.cli import data as _data  # noqa: E402,F401
from genomic_ulmfit.cli import models as _models  # noqa: E402,F401
from genomic_ulmfit.cli.app import app
from genomic_ulmfit.errors import GenomicUlmfitError


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors become one line on stderr and exit code 2."""
    if not sys.stdout.isatty():
        # Logs and CI: rich would wrap tables at 80 columns; give them room.
        os.environ.setdefault("COLUMNS", "160")
    try:
        app(args=argv, standalone_mode=True)
    except GenomicUlmfitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
