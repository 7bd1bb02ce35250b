"""`genomic-ulmfit data ...` commands (placeholder until the data layer lands)."""

from __future__ import annotations

import typer

from genomic_ulmfit.cli.app import app

data_app = typer.Typer(help="Import, split, inspect and check data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
