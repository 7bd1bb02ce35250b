"""`genomic-ulmfit data ...`: import, split, stats, check, download and simulate data sets.

Each command parses its options and calls :mod:`genomic_ulmfit.data`; heavy imports stay inside
the functions so ``genomic-ulmfit --help`` is instant.
"""

from __future__ import annotations

from pathlib import Path

import typer

from genomic_ulmfit.cli.app import app, check_out_file, check_parent_folder, warn
from genomic_ulmfit.errors import ConfigError

data_app = typer.Typer(help="Import, split, inspect and check data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def split_suffix(text: str) -> tuple[str, str | None]:
    """Split ``PATH:SUFFIX`` (the suffix holds no ``/`` or ``\\``, so a drive letter ``C:\\`` is not
    one); a path that exists is never split."""
    head, sep, tail = text.rpartition(":")
    if sep and head and tail and not {"/", "\\"} & set(tail) and not Path(text).exists():
        return head, tail
    return text, None


def _per_source(values: list, n: int, name: str) -> list:
    """One value for every source: a single value is repeated, else there must be ``n`` of them."""
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ConfigError(f"give {name} once, or once per --bed ({n}); got {len(values)}")
    return values


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


@data_app.command("import")
def import_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Output dataset (.parquet); a .json sidecar is written beside it."),
    cohn: list[str] = typer.Option(
        [], "--cohn", metavar="PATH[:SPECIES,...]",
        help="Cohn et al. folder or Enhancers_vs_negative.tgz; ':Human,Mouse' keeps only those species. Repeatable.",
    ),
    tsv: list[str] = typer.Option(
        [], "--tsv", metavar="PATH[:SPECIES]",
        help="TSV/CSV (.gz ok) with 'sequence' and 'label' columns (optional 'id', 'species'). Repeatable.",
    ),
    positive: list[str] = typer.Option([], "--positive", metavar="FASTA[:SPECIES]", help="FASTA of enhancers (label 1). Repeatable."),
    negative: list[str] = typer.Option([], "--negative", metavar="FASTA[:SPECIES]", help="FASTA of non-enhancers (label 0). Repeatable."),
    bed: list[str] = typer.Option([], "--bed", metavar="BED[:SPECIES]", help="BED regions cut from --genome, labelled --label. Repeatable."),
    genome: list[Path] = typer.Option([], "--genome", metavar="FASTA", help="Genome FASTA for --bed (once, or once per --bed)."),
    label: list[int] = typer.Option([], "--label", metavar="0|1", help="Label 0/1 of --bed regions (once, or once per --bed)."),
    width: int | None = typer.Option(None, "--width", help="Take --bed windows of this width centred on each region."),
    species: str | None = typer.Option(None, "--species", help="Species of sources without a ':SPECIES' suffix (default 'unknown'); --cohn inputs name their own (keep some with PATH:Human,Mouse)."),
    mask_iupac: bool = typer.Option(False, "--mask-iupac", help="Turn IUPAC ambiguity codes into N instead of failing."),
    min_length: int = typer.Option(1, "--min-length", help="Reject sequences shorter than this."),
    include_peaks: bool = typer.Option(False, "--include-peaks", help="Also read Cohn peaks_fasta_files as positives."),
) -> None:
    """Build a dataset from one or more inputs.

    Every input takes an optional ':SPECIES' suffix, e.g. '--tsv human.tsv.gz:Human' or
    '--positive enh.fa:Mouse --negative bg.fa:Mouse'; --species gives the default.

    Example: genomic-ulmfit data import --cohn Enhancers_vs_negative.tgz --out cohn.parquet
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from genomic_ulmfit.data.dataset import (
        Source,
        dataset_counts,
        dataset_hash,
        import_sources,
        no_base_note,
        save_dataset,
    )

    check_out_file(out, suffix=".parquet")
    if not bed and (given := [o for o, v in (("--genome", genome), ("--label", label), ("--width", width)) if v]):
        raise ConfigError(f"{', '.join(given)} only apply to --bed regions, and no --bed was given; drop "
                          f"{'it' if len(given) == 1 else 'them'} (FASTA inputs take their label from "
                          "--positive/--negative)")
    if width is not None and width < 1:
        raise ConfigError(f"--width {width}: give a window width of at least 1 base")
    if min_length < 1:
        raise ConfigError(f"--min-length {min_length}: give a length of at least 1 base")
    if include_peaks and not cohn:
        raise ConfigError("--include-peaks reads the peaks FASTA files of a --cohn input, and no --cohn was given")
    sources: list[Source] = []
    for item in cohn:
        path, keep = split_suffix(item)
        sources.append(Source("cohn", path, species=keep, include_peaks=include_peaks))
    if cohn and species and not (tsv or positive or negative or bed):
        raise ConfigError(f"--species {species} would label nothing: a --cohn input names its species by its "
                          f"folders; to keep only some, give --cohn {split_suffix(cohn[0])[0]}:{species}")
    for item in tsv:
        path, sp = split_suffix(item)
        sources.append(Source("tsv", path, species=sp or species))
    for items, lab in ((positive, 1), (negative, 0)):
        for item in items:
            path, sp = split_suffix(item)
            sources.append(Source("fasta", path, species=sp or species, label=lab))
    if bed:
        if not genome or not label:
            raise ConfigError("--bed needs --genome and --label (0 or 1)")
        for item, gen, lab in zip(bed, _per_source(genome, len(bed), "--genome"),
                                  _per_source(label, len(bed), "--label"), strict=True):
            path, sp = split_suffix(item)
            sources.append(Source("bed", path, species=sp or species, label=lab, genome=gen, width=width))
    if not sources:
        raise ConfigError("no input given; use --cohn, --tsv, --positive/--negative or --bed (see --help)")

    console = _console()
    err_console = _console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("reading: {task.completed:,} sequences"), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task("import", total=None)
        df = import_sources(sources, mask_iupac=mask_iupac, min_length=min_length,
                            progress=lambda n: bar.update(task, completed=n))
    save_dataset(df, out, sources=sources)
    _print_counts(console, dataset_counts(df), title=f"{out} ({len(df):,} sequences)")
    console.print(f"content hash {dataset_hash(df)[:16]}…")
    if note := no_base_note(df):
        warn(f"{note}; they carry no sequence information, so drop them from the input")


def _print_counts(console, counts: dict, title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    for col in ("species", "positives", "negatives", "total"):
        table.add_column(col, justify="left" if col == "species" else "right")
    for sp, c in counts["species"].items():
        table.add_row(sp, f"{c['1']:,}", f"{c['0']:,}", f"{c['0'] + c['1']:,}")
    console.print(table)


def _print_leakage(console, report) -> None:
    for line in report.summary_lines():
        style = "bold red" if line.startswith("LEAK") else ("yellow" if line.startswith("warning") else None)
        console.print(line, style=style, markup=False, soft_wrap=True)


@data_app.command("split")
def split_cmd(
    dataset: Path = typer.Argument(..., help="Dataset .parquet from `data import`."),
    fractions: str = typer.Option("0.8,0.1,0.1", "--fractions", help="Train,valid,test fractions per species × label."),
    folds: int | None = typer.Option(None, "--folds", help="Also assign K cross-validation folds over train+valid."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output dataset (default: rewrite DATASET in place)."),
    near_k: int | None = typer.Option(
        None, "--near-k", help="Also keep near-duplicates (sharing k-mers of this length, 8..32, e.g. 31) together and report them."
    ),
) -> None:
    """Assign train/valid/test splits (and folds), keeping duplicates and reverse complements together.

    Example: genomic-ulmfit data split data.parquet --near-k 31 --folds 5
    """
    from rich.table import Table

    from genomic_ulmfit.data.dataset import load_dataset, read_sidecar, save_dataset
    from genomic_ulmfit.data.leakage import leakage_report
    from genomic_ulmfit.data.split import assign_folds, assign_splits, split_problems, validate_fractions

    weights = validate_fractions(fractions)
    if out is not None:
        check_out_file(out, suffix=".parquet")
    df = load_dataset(dataset)
    df = assign_splits(df, weights, seed=seed, near_k=near_k)
    if folds is not None:
        df = assign_folds(df, folds, seed=seed, near_k=near_k)
    target = out or dataset
    sources = read_sidecar(dataset).get("sources") or [{"derived_from": str(dataset)}]
    save_dataset(df, target, sources=sources)
    console = _console()
    table = Table(title=f"{target}: splits (negatives / positives)")
    table.add_column("species")
    for name in ("train", "valid", "test"):
        table.add_column(name, justify="right")
    counts = df.groupby(["species", "split", "label"]).size()
    for sp in sorted(df["species"].unique()):
        table.add_row(sp, *[f"{counts.get((sp, s, 0), 0):,} / {counts.get((sp, s, 1), 0):,}" for s in ("train", "valid", "test")])
    console.print(table)
    if folds is not None:
        console.print("folds: " + ", ".join(f"{k}: {v:,}" for k, v in df["fold"].value_counts().sort_index().items()))
    for problem in split_problems(df, weights, folds):
        warn(problem)
    _print_leakage(console, leakage_report(df, near_k=near_k))


@data_app.command("stats")
def stats_cmd(
    dataset: Path = typer.Argument(..., help="Dataset .parquet, or a labelled TSV/CSV."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the statistics as JSON."),
) -> None:
    """Counts, lengths, GC and N content, and the GC-only AUROC floor per species (printed).

    Example: genomic-ulmfit data stats data.parquet --json stats.json
    """
    from genomic_ulmfit.data.dataset import read_table_or_dataset
    from genomic_ulmfit.data.stats import dataset_stats, render_stats
    from genomic_ulmfit.utils import write_json_atomic

    if json_out is not None:
        check_out_file(json_out, "--json", ".json")
    stats = dataset_stats(read_table_or_dataset(dataset))
    render_stats(stats, _console())
    if json_out is not None:
        write_json_atomic(json_out, stats)


@data_app.command("copies")
def copies_cmd(
    genome: list[Path] = typer.Argument(..., help="Genome FASTA file(s) of one species (gzip or plain; not overlapping)."),
    data: Path | None = typer.Option(None, "--data", help="Also say how much repeat content separates the classes "
                                     "of this labelled dataset (.parquet or TSV/CSV)."),
) -> None:
    """Build (or find) the 20-mer copy-number index that kmer:copies and gkm:copies read, ahead of a run.

    Builds it once (~25 s and ~5 GB peak per 100 Mbp) into $XDG_CACHE_HOME/genomic-ulmfit/copies
    (~/.cache/... by default), so parallel `cv --fold` processes find it built. With --data: the
    share of 20-mers with at least two copies per label and its AUROC alone.

    Example: genomic-ulmfit data copies chrX.fa.gz chr22.fa.gz --data cohn.parquet
    """
    from genomic_ulmfit.data.copies import GenomeCopies, class_shares, index_path

    index = GenomeCopies.cached(genome, 20)
    c = _console()
    c.print(f"{len(index.keys):,} distinct 20-mers ({int(index.counts.astype('uint64').sum()):,} in all) from "
            f"{len(genome)} file(s); index {index_path(index.digest)} (digest {index.digest[:16]}…)")
    if data is not None:
        from genomic_ulmfit.data.dataset import read_table_or_dataset

        df = read_table_or_dataset(data)
        if "label" not in df or not df["label"].isin([0, 1]).any():
            raise ConfigError(f"--data {data}: no labels 0/1 to compare; give a labelled dataset")
        df = df[df["label"].isin([0, 1])]
        shares = class_shares(df["sequence"].tolist(), df["label"].to_numpy(), index)
        text = ", ".join(f"label {c_}: {shares[f'share_label_{c_}']:.3f}" for c_ in (0, 1) if f"share_label_{c_}" in shares)
        auc = shares.get("auroc_fewer_copies_positive")
        c.print(f"share of 20-mers with >= 2 copies: {text}" + (f"; AUROC of that share alone {auc:.3f}" if auc else ""))


@data_app.command("check")
def check_cmd(
    a: Path = typer.Argument(..., help="Dataset .parquet or raw TSV/CSV/FASTA."),
    b: Path | None = typer.Argument(None, help="Optional second set: report its rows found in A."),
    near_k: int | None = typer.Option(None, "--near-k", help="Also find near-duplicates sharing k-mers of this length (8..32, e.g. 31)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the report as JSON."),
    fail_on_leak: bool = typer.Option(False, "--fail-on-leak", help="Exit with code 1 when leakage is found."),
) -> None:
    """Find exact, reverse-complement and (--near-k) near duplicates (within A across splits/folds, or B in A).

    Example: genomic-ulmfit data check train.tsv.gz test.tsv.gz --near-k 31 --json leak.json
    """
    from genomic_ulmfit.data.dataset import read_table_or_dataset
    from genomic_ulmfit.data.leakage import leakage_report
    from genomic_ulmfit.utils import write_json_atomic

    if json_out is not None:
        check_out_file(json_out, "--json", ".json")
    table_a = read_table_or_dataset(a, require_label=False)
    table_b = read_table_or_dataset(b, require_label=False) if b is not None else None
    report = leakage_report(table_a, table_b, near_k=near_k)
    console = _console()
    console.print(f"A = {a}" + (f", B = {b}" if b is not None else ""), markup=False, soft_wrap=True)
    _print_leakage(console, report)
    if json_out is not None:
        write_json_atomic(json_out, report.to_dict())
    if fail_on_leak and report.has_leak:
        raise typer.Exit(1)


@data_app.command("download")
def download_cmd(
    name: str = typer.Argument(..., help="What to download: 'cohn' (Cohn et al. 2018, 17 species)."),
    out: Path = typer.Option(..., "--out", "-o", help="Destination folder."),
    url: str | None = typer.Option(None, "--url", help="Download from this URL instead of the default."),
    no_extract: bool = typer.Option(False, "--no-extract", help="Keep the .tgz without extracting it."),
) -> None:
    """Download (resumable) and safely extract a public data set.

    Example: genomic-ulmfit data download cohn --out data/cohn
    """
    from genomic_ulmfit.data.download import COHN_URL, download_cohn

    if name != "cohn":
        raise ConfigError(f"unknown data set {name!r}; available: cohn")
    path = download_cohn(out, url=url or COHN_URL, extract=not no_extract)
    _console().print(f"ready: {path}", markup=False)


@data_app.command("simulate")
def simulate_cmd(
    out_dir: Path = typer.Argument(..., help="Output folder (Cohn layout + genomes/)."),
    species: int = typer.Option(4, "--species", help="Number of simulated species."),
    per_class: int = typer.Option(2000, "--per-class", help="Sequences per class and species."),
    length: int = typer.Option(500, "--length", help="Sequence length."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    genome_length: int = typer.Option(1_000_000, "--genome-length", help="Length of each simulated genome."),
    no_genomes: bool = typer.Option(False, "--no-genomes", help="Do not write genomes/<Species>.fa.gz."),
) -> None:
    """Write a simulated data set in the Cohn et al. layout (plus genomes for LM pretraining).

    Example: genomic-ulmfit data simulate sim/ --species 2 --per-class 500
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: is a file, not a folder; choose another output folder")
    check_parent_folder(out_dir, "OUT_DIR")
    from genomic_ulmfit.data.simulate import simulate_cohn_layout

    info = simulate_cohn_layout(
        out_dir, n_species=species, per_class=per_class, length=length, seed=seed,
        genome_length=genome_length, write_genomes=not no_genomes, progress=True,
    )
    names = ", ".join(info.get("species", {})) if isinstance(info, dict) else ""
    console = _console()
    console.print(f"simulated {species} species ({names}) × {per_class:,} sequences per class in {out_dir}", markup=False)
    if not no_genomes:
        console.print(f"genomes: {Path(out_dir) / 'genomes'}", markup=False)
    if isinstance(info, dict) and info.get("note"):
        console.print(info["note"], style="yellow", markup=False)
    console.print(f"next: genomic-ulmfit data import --cohn {out_dir} --out dataset.parquet", markup=False)
