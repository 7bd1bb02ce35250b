"""The typer application object shared by the command modules.

Command modules register on :data:`app` (or add a sub-app) and keep heavy imports inside the
command functions, so ``genomic-ulmfit --help`` stays instant.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="genomic-ulmfit",
    help="Enhancer classification from DNA: k-mer tokens, genome language models, ULMFiT, CNN and k-mer baselines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(
    amp: str | None = typer.Option(
        None, "--amp", metavar="MODE",
        help="Autocast precision of the torch models (ULMFiT, its LM, the CNNs), in training and prediction: "
             "auto (default: bf16 on CUDA and on CPUs with native bf16 units, Intel AMX or AVX512-BF16, else fp32), "
             "off (fp32), bf16, or fp16 (CUDA only). Same as $GENOMIC_ULMFIT_AMP. Give it before the command."),
) -> None:
    """Enhancer classification from DNA: k-mer tokens, genome language models, ULMFiT, CNN and k-mer baselines."""
    import os

    from genomic_ulmfit.config import AMP_ENV, check_amp_mode

    if amp is not None:
        os.environ[AMP_ENV] = check_amp_mode(amp, "--amp ")


def warn(message: str) -> None:
    """One warning line on stderr (yellow on a terminal); the command goes on."""
    from rich.console import Console

    Console(stderr=True, highlight=False).print(f"[yellow]warning:[/] {message}", soft_wrap=True)


def check_parent_folder(path, option: str = "--out") -> None:
    """Refuse, before any work, an output path below a file (``x.fa/out.tsv``): it could not be written."""
    from pathlib import Path

    from genomic_ulmfit.errors import ConfigError

    parent = Path(path).parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise ConfigError(f"{option} {path}: {parent} is a file, not a folder, so nothing can be written below it; "
                          "choose another path")


def check_out_file(path, option: str = "--out", suffix: str | None = None) -> None:
    """Refuse, before any work, an output file path that is a directory or lacks ``suffix``."""
    from pathlib import Path

    from genomic_ulmfit.errors import ConfigError

    path = Path(path)
    check_parent_folder(path, option)
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a directory; give a file name (e.g. {path / ('out' + (suffix or '.tsv'))})")
    if suffix is not None and path.suffix != suffix:
        kind = {".json": "JSON", ".parquet": "Parquet"}.get(suffix, suffix)
        raise ConfigError(f"{option} {path}: this file is written as {kind}; "
                          f"give a file name ending in {suffix}")
