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
    except SystemExit as exc:
        if exc.code == 130:  # Ctrl-C: typer exits with 130 and says nothing
            print("interrupted: a training command (train, lm pretrain/finetune, cv, holdout, benchmark, "
                  "cross-species) continues from its last checkpoint when run again with --resume", file=sys.stderr)
        raise
    except (NotADirectoryError, FileExistsError, IsADirectoryError, PermissionError) as exc:
        # a path the user gave that cannot be written or read as asked: one line, not a traceback
        print(f"error: {_path_error(exc)}", file=sys.stderr)
        sys.exit(2)


_PATH_FIXES = {
    NotADirectoryError: "a part of this path is a file, not a folder; choose another path",
    FileExistsError: "a file is in the way of a folder of that name; choose another path",
    IsADirectoryError: "it is a folder; give a file name",
    PermissionError: "check its permissions (read for inputs, write for outputs) or choose another path",
}


def _path_error(exc: OSError) -> str:
    """One line for an OSError about a path: the path, the system's reason, what to do."""
    fix = next(v for k, v in _PATH_FIXES.items() if isinstance(exc, k))
    return f"{exc.filename or 'a path'}: {exc.strerror or exc}; {fix}"
