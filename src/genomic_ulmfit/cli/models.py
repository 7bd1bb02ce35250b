"""Model commands: ``lm pretrain|finetune``, ``train``, ``predict``, ``scan``, ``evaluate``,
``lr-find``, ``benchmark``, ``cross-species`` and ``demo``.

Each is a thin layer over the library (imports inside the functions keep ``--help`` instant).
"""

from __future__ import annotations

from pathlib import Path

import typer

from genomic_ulmfit.cli.app import app, check_out_file, check_parent_folder
from genomic_ulmfit.cli.app import warn as _warn
from genomic_ulmfit.models.names import (
    names_help,
    split_name,
    uses_copies_genome,
    uses_genome_lm,
    uses_motifs,
)

lm_app = typer.Typer(help="Genome language models: pretrain on genome FASTA, fine-tune on a dataset.",
                     no_args_is_help=True)
app.add_typer(lm_app, name="lm")

RC_HELP = ("Also score the reverse complement and average. Only the Cohn CNN reads one strand: the k-mer LR and "
           "gkm-SVM count both, ULMFiT and the modern CNN already average them.")
PRESET_HELP = "Preset: tiny, demo, cpu, paper-4mer, paper-5mer, paper-3mer, or a preset .json file."
MODELS_HELP = f"Comma list of {names_help()}."
LM_HELP = ("Pretrained genome LM for ULMFiT ('lm pretrain'); without it ULMFiT's LM starts from random weights "
           "and learns from the training sequences only (a warning says so).")
COPIES_HELP = ("kmer:copies, gkm:copies: genome FASTA file(s) of the sequences' species (repeat the option for several), "
               "whose 20-mer copy numbers become features, e.g. ../shared/data/genomes/human_GRCh37_chrX.fa.gz; "
               "indexed once (~25 s per 100 Mbp, ~5 GB peak) and cached in $XDG_CACHE_HOME/genomic-ulmfit/copies "
               "(~/.cache/... by default). The files must not overlap: a k-mer in two of them counts twice.")
MOTIFS_HELP = ("kmer:motifs, gkm:motifs: the motifs whose best score in each sequence becomes a feature: jaspar "
               "(JASPAR 2024 CORE vertebrates, 879 profiles, from the pyjaspar package; the default), jaspar2022 "
               "(or another release pyjaspar holds), liver (eight liver factors), or a JASPAR-format file.")
SEED_HELP = "Random seed (splits, initialisation, batch order): the same seed gives the same result."
DEVICE_HELP = "cpu, cuda or cuda:N (default: cuda when available, else cpu)."
RESUME_HELP = ("Load the models already fitted in --out with the same settings and data instead of refitting "
               "them, so an interrupted run picks up at the first unfinished model (ULMFiT and CNN fits "
               "stopped part-way continue from their last finished epoch).")


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _species_list(species: str | None) -> list[str] | None:
    if species in (None, "", "all"):
        return None
    return [s.strip() for s in species.split(",") if s.strip()]


def _check_out(out: Path, resume: bool, fix: str = "pass --resume to continue its run or choose a new --out") -> None:
    """Refuse to train into a directory that already holds a run, unless resuming it."""
    from genomic_ulmfit.errors import ConfigError

    check_parent_folder(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: is a file, not a run directory; choose a new --out")
    if resume and (out / "lm.json").is_file():
        raise ConfigError(f"{out}: this language model is finished (lm.json), so there is nothing to resume; "
                          "choose a new --out")
    if resume:
        if not (out / "checkpoints").is_dir():
            raise ConfigError(f"{out}: nothing to resume (no checkpoints/ here); drop --resume to start a new run")
        return
    # a run that failed before its first checkpoint leaves only its corpus, which is rebuilt
    if out.exists() and any(f.name != "corpus" for f in out.iterdir()):
        raise ConfigError(f"{out}: directory is not empty; {fix}")


def _refuse_repeated(runs: list[Path], command: str, why: str) -> None:
    """Refuse run directories given more than once (by any path)."""
    from genomic_ulmfit.errors import ConfigError

    twice = sorted({str(r) for r in runs if sum(q.resolve() == r.resolve() for q in runs) > 1})
    if twice:
        raise ConfigError(f"{command}: {', '.join(twice)} given twice ({why}); give each run once")


def _check_n_boot(n_boot: int) -> None:
    """Check ``--n-boot`` before any model scores (the bootstrap comes last)."""
    from genomic_ulmfit.errors import ConfigError

    if n_boot < 1:
        raise ConfigError(f"--n-boot {n_boot} is not a number of resamples; give at least 1 (1000 is the default)")


def _check_copies(names: list[str], copies_genome: list[Path] | None) -> tuple[Path, ...]:
    """``--copies-genome`` as a tuple, checked before anything trains: it is needed by the :copies
    models and read by nothing else (given without one it would be silently ignored)."""
    from genomic_ulmfit.errors import ConfigError

    genome = tuple(copies_genome or ())
    wanted = [n for n in names if uses_copies_genome(n)]
    if genome and not wanted:
        raise ConfigError("--copies-genome is read by the kmer:copies and gkm:copies models only; add one to the "
                          "models, or drop --copies-genome")
    if wanted and not genome:
        raise ConfigError(f"{wanted[0]} reads k-mer copy numbers from a genome: give its FASTA file(s) with "
                          "--copies-genome (e.g. ../shared/data/genomes/human_GRCh37_chrX.fa.gz)")
    for g in genome:
        if not g.is_file():
            what = "is a directory" if g.is_dir() else "file not found"
            raise ConfigError(f"--copies-genome {g}: {what}; give a genome FASTA file (gzip or plain)")
    return genome


def _check_motifs(names: list[str], motifs: str | None) -> str:
    """``--motifs`` (default ``jaspar``), read once before anything trains when a :motifs model will
    use it; given without such a model it is refused (it would be silently ignored)."""
    from genomic_ulmfit.data.motifs import load_motifs
    from genomic_ulmfit.errors import ConfigError

    wanted = [n for n in names if uses_motifs(n)]
    if motifs is not None and not wanted:
        raise ConfigError("--motifs is read by the kmer:motifs and gkm:motifs models (and their copies+motifs "
                          "variants) only; add one to the models, or drop --motifs")
    source = "jaspar" if motifs is None else motifs
    if wanted:
        load_motifs(source)  # a missing file, a bad line or no pyjaspar: said now, not after the other fits
    return source


def _check_lm(names: list[str], lm: Path | None, preset: str) -> None:
    """Check ``--lm`` before any model trains (not hours later when ULMFiT starts), or warn without one.

    ULMFiT without a genome LM is the `ulmfit:scratch` ablation; say so rather than run it silently.
    An LM whose k-mers or sizes differ from ``preset``'s gets a warning (ULMFiT keeps the LM's).
    """
    from genomic_ulmfit.errors import ConfigError

    if lm is not None and not (lm / "lm.json").is_file():
        raise ConfigError(f"--lm {lm}: no lm.json here; give a directory written by 'lm pretrain' "
                          "(e.g. benchmarks/build_lm.sh)")
    if lm is None and "ulmfit:noft" in names:
        raise ConfigError("ulmfit:noft trains the classifier on a genome LM as it is: give one with --lm LM_DIR "
                          "(from 'lm pretrain')")
    if not any(uses_genome_lm(n) for n in names):
        return
    if lm is None:
        _warn("no --lm: ULMFiT's language model starts from random weights and learns from the training "
              "sequences only (no genome pretraining); give --lm LM_DIR from 'lm pretrain'")
    else:
        _warn_preset_mismatch(lm, preset)


def _warn_preset_mismatch(lm: Path | str, preset) -> None:
    from genomic_ulmfit.training.lm import preset_mismatch

    problem = preset_mismatch(lm, preset)
    if problem:
        _warn(problem)


def _require_split(df, dataset: Path) -> None:
    """Training commands read the train/valid rows of a split dataset; refuse one without splits."""
    from genomic_ulmfit.errors import ConfigError

    if "split" not in df.columns or (df["split"] == "").any():
        raise ConfigError(f"{dataset}: has rows without a train/valid/test split; run 'genomic-ulmfit data split "
                          f"{dataset}' first (so that 'evaluate' knows which rows are the test set)")


@lm_app.command("pretrain")
def lm_pretrain(
    fasta: list[Path] = typer.Argument(..., help="Genome FASTA file(s), gzip ok."),
    out: Path = typer.Option(..., "--out", "-o", help="LM directory to write."),
    preset: str = typer.Option("cpu", "--preset", help=PRESET_HELP),
    kmer: int | None = typer.Option(None, "--kmer", help="k of the k-mer tokens (default: the preset's)."),
    stride: int | None = typer.Option(None, "--stride", help="Stride of the k-mer tokens (default: the preset's)."),
    mode: str = typer.Option("chunks", "--mode", help="chunks (N-free 10 kb chunks → 2 kb pieces) or stream."),
    max_bases: int | None = typer.Option(None, "--max-bases", help="Read at most this many bases (quick runs)."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override the preset's pretraining epochs."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Override the preset's cap on training tokens "
                                          "per epoch (0 = the whole corpus)."),
    lr: float | None = typer.Option(None, "--lr", help="Override the preset's peak learning rate."),
    init: Path | None = typer.Option(None, "--init", help="Continue pretraining from this LM directory (warm start; "
                                     "use a new --seed so it samples new pieces)."),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    device: str | None = typer.Option(None, "--device", help="cpu, cuda, cuda:1 … (default: CUDA when present)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in --out."),
) -> None:
    """Pretrain an AWD-LSTM language model on genome sequence.

    Example: genomic-ulmfit lm pretrain human_chr22.fa.gz --kmer 4 --stride 2 --preset cpu --out lm/
    More of it: ... --init lm/ --seed 1 --max-tokens 16000000 --out lm_longer/
    """
    from genomic_ulmfit.config import get_preset
    from genomic_ulmfit.training.lm import pretrain_lm

    p = get_preset(preset)
    if epochs is not None:
        p = p.replace(**{"pretrain.epochs": epochs})
    if max_tokens is not None:
        p = p.replace(**{"pretrain.max_tokens": max_tokens or None})
    if lr is not None:
        p = p.replace(**{"pretrain.lr": lr})
    _check_out(out, resume)
    pretrain_lm(fasta, out, preset=p, k=kmer, stride=stride, mode=mode, max_bases=max_bases, seed=seed,
                device=device, resume=resume, init_from=init)
    _summary_lm(out)


def _summary_lm(out: Path) -> None:
    from genomic_ulmfit.training.lm import read_lm_meta

    meta = read_lm_meta(out)
    final = meta.get("final") or {}
    vl, va = final.get("valid_loss"), final.get("valid_accuracy")
    used = meta.get("used") or {}
    _console().print(
        f"[green]LM written to {out}[/]  corpus tokens: {meta['corpus']['train_tokens']:,} train / "
        f"{meta['corpus']['valid_tokens']:,} valid; trained on {used.get('train_tokens_seen', 0):,}, "
        f"validated on {used.get('valid_tokens', 0):,}; "
        + (f"genome chunks kept {meta['corpus']['chunks_kept']:,}, dropped for N/IUPAC bases "
           f"{meta['corpus']['chunks_dropped']:,}; " if "chunks_kept" in meta["corpus"] else "")
        + (f"valid loss {vl:.4f}, accuracy {va:.4f}; " if vl is not None and va is not None else "")
        + f"{meta['seconds']:.0f} s"
    )


@lm_app.command("finetune")
def lm_finetune(
    dataset: Path = typer.Argument(..., help="Dataset (.parquet) from 'data import'; its train split is used."),
    from_dir: str = typer.Option(..., "--from", help="Pretrained LM directory, or 'none' to start from scratch."),
    out: Path = typer.Option(..., "--out", "-o", help="Fine-tuned LM directory to write."),
    preset: str = typer.Option("cpu", "--preset", help=PRESET_HELP),
    species: str | None = typer.Option(None, "--species", help="Comma-separated species (default: all)."),
    epochs: int | None = typer.Option(None, "--epochs", help="Override the preset's fine-tuning epochs."),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    device: str | None = typer.Option(None, "--device", help=DEVICE_HELP),
    resume: bool = typer.Option(False, "--resume", help="Continue a stopped fine-tune in --out from its last "
                                "checkpoint (same settings)."),
) -> None:
    """Fine-tune a language model on a dataset's training sequences (never valid/test).

    Example: genomic-ulmfit lm finetune data.parquet --from lm/ --preset cpu --out lm_ft/
    """
    from genomic_ulmfit.config import get_preset
    from genomic_ulmfit.data.dataset import load_dataset
    from genomic_ulmfit.training.lm import finetune_lm
    from genomic_ulmfit.training.runs import data_info, training_rows

    p = get_preset(preset)
    if epochs is not None:
        p = p.replace(**{"finetune.epochs": epochs})
    _check_out(out, resume)
    df = load_dataset(dataset)
    _require_split(df, dataset)
    if from_dir.lower() != "none":
        _warn_preset_mismatch(from_dir, p)
    sp = _species_list(species)
    train, _ = training_rows(df, sp, seed=seed)
    finetune_lm(train["sequence"].tolist(), out, from_dir=None if from_dir.lower() == "none" else from_dir,
                preset=p, seed=seed, device=device, resume=resume, data_info=data_info(train, dataset, sp))
    _summary_lm(out)


@app.command("train")
def train(
    dataset: Path = typer.Argument(..., help="Dataset (.parquet) with splits ('data split')."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to write."),
    model: str = typer.Option("ulmfit", "--model", "-m", help=f"One of {names_help(encoder_variants=False)} "
                              "(gkm:linear: the linear kernel only, for faster scans and gapped k-mer weights)."),
    encoder: Path | None = typer.Option(None, "--encoder", help="ULMFiT: (fine-tuned) LM directory."),
    arch: str | None = typer.Option(None, "--arch", help="CNN: cohn or modern (default: the preset's)."),
    copies_genome: list[Path] | None = typer.Option(None, "--copies-genome", help=COPIES_HELP),
    motifs: str | None = typer.Option(None, "--motifs", help=MOTIFS_HELP),
    preset: str = typer.Option("cpu", "--preset", help=PRESET_HELP),
    species: str | None = typer.Option(None, "--species", help="Comma-separated species, or all (default)."),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    device: str | None = typer.Option(None, "--device", help=DEVICE_HELP),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in --out."),
) -> None:
    """Train a classifier on the train split (valid split for epoch selection).

    Example: genomic-ulmfit train data.parquet --model ulmfit --encoder lm_ft/ --preset cpu --out run/
    """
    from genomic_ulmfit.config import get_preset
    from genomic_ulmfit.data.dataset import load_dataset
    from genomic_ulmfit.errors import ConfigError
    from genomic_ulmfit.evaluation.benchmark import check_models_available
    from genomic_ulmfit.models.estimators import model_from_name
    from genomic_ulmfit.training.runs import train_model

    check_models_available([model])
    get_preset(preset)  # an unknown preset is an error whatever the model
    genome = _check_copies([model], copies_genome)
    motif_source = _check_motifs([model], motifs)
    ulmfit = split_name(model)[0] == "ulmfit"
    if encoder is not None and not ulmfit:
        raise ConfigError(f"--encoder is the language model of a ULMFiT classifier; a {model} model has none, so "
                          "drop --encoder (or train --model ulmfit)")
    _check_out(out, resume)
    df = load_dataset(dataset)
    _require_split(df, dataset)
    if ulmfit and encoder is None:
        _warn("no --encoder: the ULMFiT encoder starts from random weights (no language model); give --encoder "
              "LM_DIR from 'lm pretrain' or 'lm finetune'")
    elif ulmfit:
        _warn_preset_mismatch(encoder, preset)
    est = model_from_name(model, preset=preset, encoder=encoder, arch=arch, seed=seed, device=device,
                          copies_genome=genome, motifs=motif_source)
    train_model(est, df, out, species=_species_list(species), dataset_path=dataset, seed=seed, resume=resume)
    _console().print(f"[green]model written to {out}[/] (run record: {out / 'run.json'})")


@app.command("predict")
def predict(
    run_dir: Path = typer.Argument(..., help="Run directory written by 'train'."),
    input: Path = typer.Argument(..., help="FASTA, TSV/CSV with a 'sequence' column, or a dataset .parquet."),
    out: Path = typer.Option(..., "--out", "-o", help="Output TSV: id, score[, label]."),
    rc_average: bool = typer.Option(False, "--rc-average", help=RC_HELP),
    batch_size: int | None = typer.Option(None, "--batch-size"),
    mask_iupac: bool = typer.Option(False, "--mask-iupac", help="Turn IUPAC codes into N instead of failing."),
) -> None:
    """Score sequences: P(enhancer) per sequence.

    Example: genomic-ulmfit predict run/ new.fa --out scores.tsv --rc-average
    """
    from genomic_ulmfit.predict import predict_file

    check_out_file(out)
    table = predict_file(run_dir, input, out, rc_average=rc_average, batch_size=batch_size, mask_iupac=mask_iupac,
                         warn=_warn)
    msg = f"[green]{len(table):,} sequences scored → {out}[/]"
    if "label" in table.columns and table["label"].nunique() == 2:
        from genomic_ulmfit.evaluation.metrics import auroc

        msg += f"  (AUROC against the input labels: {auroc(table['label'], table['score']):.4f})"
    _console().print(msg)


@app.command("scan")
def scan(
    run_dir: Path = typer.Argument(..., help="Run directory written by 'train'."),
    fasta: Path = typer.Argument(..., help="Genome or region FASTA to scan."),
    out: Path = typer.Option(..., "--out", "-o", help="Windows TSV (chrom, start, end, score; gzipped if it ends in "
                             ".gz); regions (BED, score = 1000 × best window) go to OUT.regions.bed (without .gz)."),
    width: int | None = typer.Option(None, "--width", help="Window width (default: the median length of the run's "
                                     "training sequences, from its run.json; else 500)."),
    step: int | None = typer.Option(None, "--step", help="Bases between window starts (default: half the width)."),
    threshold: float = typer.Option(0.5, "--threshold", help="Score (0-1) at which windows are merged into regions."),
    max_n: float = typer.Option(0.1, "--max-n", help="Skip windows with a larger fraction of N (0 <= f < 1)."),
    rc_average: bool = typer.Option(False, "--rc-average", help=RC_HELP),
) -> None:
    """Scan sequences with sliding windows and call enhancer regions.

    Example: genomic-ulmfit scan run/ chr22.fa.gz --out chr22_scan.tsv --step 100
    """
    from genomic_ulmfit.predict import scan_fasta

    check_out_file(out)
    s = scan_fasta(run_dir, fasta, out, width=width, step=step, threshold=threshold, max_n=max_n,
                   rc_average=rc_average)
    if s["short_records"]:
        _warn(f"{s['short_records']} of {s['records']} record(s) are shorter than the window width {s['width']} "
              "and were not scanned; give a smaller --width")
    if s["skipped_n"]:
        _warn(f"{s['skipped_n']:,} window(s) with more than {max_n:.1%} N were skipped (--max-n)")
    from genomic_ulmfit.training.runs import length_note

    if note := length_note(run_dir, s["width"], "each scan window"):
        _warn(note)
    if s["step"] > s["width"]:
        _warn(f"--step {s['step']} is larger than the window width {s['width']}: {s['step'] - s['width']} bases "
              "between windows are not scored; give --step at most the width")
    if s["called_fraction"] > 0.1:
        _warn(f"{s['called_fraction']:.0%} of the windows score ≥ {threshold}: a classifier trained on about as many "
              "enhancers as non-enhancers calls far more of a genome than the few percent enhancers cover; for the "
              f"top 5% or 1% of windows give --threshold {s['top5_score']:.3f} or {s['top1_score']:.3f}")
    _console().print(f"[green]{s['windows']:,} windows of {s['width']} bp (step {s['step']}) in {s['records']} "
                     f"record(s) → {out}; {s['regions']} regions ≥ {threshold} → {s['regions_bed']}[/]")


@app.command("evaluate")
def evaluate(
    runs: list[Path] = typer.Argument(..., help="Run directory (or several) written by 'train'."),
    dataset: Path = typer.Option(..., "--data", "-d", help="Dataset (.parquet)."),
    split: str = typer.Option("test", "--split", help="train, valid, test or all."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for metrics.json, metrics.md, scores.tsv (every "
                             "run's score per sequence), delong.tsv (each run against the best, paired DeLong) and ROC/PR plots."),
    species: str | None = typer.Option(None, "--species", help="Comma-separated species (default: all)."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples for the AUROC CI."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
) -> None:
    """Per-species AUROC (95% CI), AUPRC, accuracy, precision, recall, specificity, MCC.

    Example: genomic-ulmfit evaluate run/ --data data.parquet --split test --out eval/
    """
    from genomic_ulmfit.evaluation.evaluate import evaluate_run
    from genomic_ulmfit.evaluation.report import print_results_table

    _check_n_boot(n_boot)
    _refuse_repeated(runs, "evaluate", "its rows would be scored twice")
    results, _ = evaluate_run(runs, dataset, split=split, species=_species_list(species), out_dir=out,
                              n_boot=n_boot, seed=seed, warn=_warn)
    print_results_table(results, title=f"{split} split")
    _console().print(f"[green]metrics → {out / 'metrics.json'}, {out / 'metrics.md'}[/]")


@app.command("motifs")
def motifs(
    dataset: Path = typer.Argument(..., help="Labelled data: a dataset .parquet or a TSV/CSV with sequence,label."),
    out: Path = typer.Option(..., "--out", "-o", help="Motif table (TSV; gzipped if it ends in .gz)."),
    run: Path | None = typer.Option(None, "--run", help="Also test whether this run's scores follow each motif."),
    split: str = typer.Option("all", "--split", help="Rows to use: train, valid, test or all (a split dataset)."),
    jaspar: str | None = typer.Option(None, "--jaspar", help="Motifs: a JASPAR-format file (gzip ok), or jaspar "
                                      "(all 879 JASPAR 2024 CORE vertebrate profiles, from the pyjaspar package), "
                                      "jaspar2022 etc. (default: 8 liver factors)."),
    threshold: float = typer.Option(0.85, "--threshold", help="Relative PWM score of a hit (0-1]."),
) -> None:
    """Motif interpretation: hit rates of TF motifs in positives vs negatives, odds ratios raw and
    adjusted for GC content (95% CI, p), and with --run whether the model scores sequences with a
    motif higher than others of the same class and GC content (score_or, score_p).

    Example: genomic-ulmfit motifs data.parquet --split test --run run/ --out motifs.tsv
    """
    from genomic_ulmfit.data.dataset import read_table_or_dataset
    from genomic_ulmfit.data.motifs import load_motifs
    from genomic_ulmfit.evaluation.evaluate import select_split
    from genomic_ulmfit.evaluation.motifs import check_threshold, motif_table
    from genomic_ulmfit.utils import write_text_atomic

    check_out_file(out)
    check_threshold(threshold)
    found = load_motifs(jaspar) if jaspar is not None else None
    df = select_split(read_table_or_dataset(dataset), split)
    scores = None
    if run is not None:
        from genomic_ulmfit.models.base import load_model
        from genomic_ulmfit.training.runs import warn_if_unlike_training

        scores = load_model(run).predict_proba(df["sequence"].tolist())
        warn_if_unlike_training(run, df["sequence"].tolist(), f"{dataset} (split {split})", _warn)
    table = motif_table(df["sequence"].tolist(), df["label"].to_numpy(), scores, motifs=found, threshold=threshold,
                        progress=True)
    write_text_atomic(out, table.to_csv(sep="\t", index=False))
    c = _console()
    c.print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"), markup=False)
    c.print(f"[green]{len(table)} motifs on {len(df):,} sequences → {out}[/]")


@app.command("top-kmers")
def top_kmers(
    run_dir: Path = typer.Argument(..., help="Run directory of a --model kmer or --model gkm:linear fit."),
    n: int = typer.Option(20, "--n", help="How many features, by |weight|."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Also write them as TSV (rank, feature, weight)."),
) -> None:
    """The k-mers (k-mer LR) or gapped k-mers (linear gkm-SVM) a model weighs most; weight > 0 favours enhancer.

    Example: genomic-ulmfit top-kmers run/ --n 30 --out top_kmers.tsv
    """
    from genomic_ulmfit.errors import ConfigError
    from genomic_ulmfit.evaluation.motifs import top_features
    from genomic_ulmfit.models.base import load_model
    from genomic_ulmfit.utils import write_text_atomic

    if n < 1:
        raise ConfigError(f"--n {n}: give how many features to list (1 or more)")
    if out is not None:
        check_out_file(out)
    table = top_features(load_model(run_dir), n)
    _console().print(table.to_string(index=False, float_format=lambda v: f"{v:+.4g}"), markup=False)
    if out is not None:
        write_text_atomic(out, table.to_csv(sep="\t", index=False))
        _console().print(f"[green]{len(table)} features → {out}[/]")


@app.command("lr-find")
def lr_find(
    dataset: Path = typer.Argument(..., help="Dataset (.parquet); one without splits is split 80/10/10 here "
                                   "(seeded), and the sweep uses its train rows."),
    out: Path = typer.Option(Path("lr_find.png"), "--out", "-o", help="Plot (PNG)."),
    model: str = typer.Option("ulmfit", "--model", "-m", help="ulmfit or cnn (cnn:cohn, cnn:modern)."),
    encoder: Path | None = typer.Option(None, "--encoder", help="ULMFiT: (fine-tuned) LM directory (default: a "
                                        "random encoder)."),
    preset: str = typer.Option("cpu", "--preset", help=PRESET_HELP),
    species: str | None = typer.Option(None, "--species", help="Comma-separated species (default: all)."),
    num_it: int = typer.Option(100, "--num-it", help="Learning rates tried (one mini-batch each)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (split, initialisation, batches)."),
) -> None:
    """Learning-rate finder (exponential sweep) for the classifier's first stage, with a plot.

    Example: genomic-ulmfit lr-find data.parquet --model ulmfit --encoder lm_ft/ --out lr.png
    """
    from genomic_ulmfit.training.lr_tools import classifier_lr_find

    suggestion = classifier_lr_find(dataset, out, model=model, encoder=encoder, preset=preset,
                                    species=_species_list(species), num_it=num_it, seed=seed, warn=_warn)
    _console().print(f"[green]plot → {out}[/]; suggested lr ≈ {suggestion:.2e}")


@app.command("benchmark")
def benchmark(
    dataset: Path = typer.Argument(..., help="Dataset (.parquet)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (report.md, report.html, runs/)."),
    species: str = typer.Option("all", "--species", help="Comma-separated species or all."),
    models: str = typer.Option("kmer,cnn,ulmfit", "--models",
                               help=MODELS_HELP),
    preset: str = typer.Option("cpu", "--preset", help=PRESET_HELP),
    lm: Path | None = typer.Option(None, "--lm", help=LM_HELP),
    copies_genome: list[Path] | None = typer.Option(None, "--copies-genome", help=COPIES_HELP),
    motifs: str | None = typer.Option(None, "--motifs", help=MOTIFS_HELP),
    pooled: bool = typer.Option(False, "--pooled", help="Also train one model on all species pooled."),
    ensemble: bool = typer.Option(False, "--ensemble/--no-ensemble", help="Also score the models' ensemble."),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples for the AUROC CI."),
    device: str | None = typer.Option(None, "--device", help=DEVICE_HELP),
    resume: bool = typer.Option(False, "--resume", help=RESUME_HELP),
) -> None:
    """Split → (LM fine-tune) → train → evaluate every model per species; write the report.

    Example: genomic-ulmfit benchmark cohn.parquet --species Human,Mouse,Dog,Opossum --models kmer,cnn,ulmfit --preset cpu --out bench/
    """
    from genomic_ulmfit.evaluation.benchmark import check_models_available, parse_models, run_benchmark

    names = parse_models(models)
    check_models_available(names)
    _check_lm(names, lm, preset)
    genome = _check_copies(names, copies_genome)
    motif_source = _check_motifs(names, motifs)
    _check_n_boot(n_boot)
    c = _console()
    run_benchmark(dataset, out, species=species, models=names, preset=preset, lm_dir=lm, pooled=pooled,
                  ensemble=ensemble, seed=seed, n_boot=n_boot, device=device, log=c.print, resume=resume,
                  copies_genome=genome, motifs=motif_source)
    c.print(f"[green]report → {out / 'report.md'} and {out / 'report.html'}[/]")


@app.command("cross-species")
def cross_species_cmd(
    dataset: Path = typer.Argument(..., help="Dataset (.parquet) with several species."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (cross_species.tsv, cross_species.png, "
                             "runs/)."),
    model: str = typer.Option("kmer", "--model", "-m", help="One model: kmer[:copies], cnn[:cohn|:modern], ulmfit[:…], gkm[:linear|:copies] or gkmsvm."),
    species: str = typer.Option("all", "--species", help="Comma-separated species (two or more) or all."),
    preset: str = typer.Option("cpu", "--preset", help=PRESET_HELP),
    lm: Path | None = typer.Option(None, "--lm", help=LM_HELP),
    copies_genome: list[Path] | None = typer.Option(None, "--copies-genome", help=COPIES_HELP),
    motifs: str | None = typer.Option(None, "--motifs", help=MOTIFS_HELP),
    pooled: bool = typer.Option(True, "--pooled/--no-pooled", help="Add the row trained on all species pooled."),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    device: str | None = typer.Option(None, "--device", help=DEVICE_HELP),
    resume: bool = typer.Option(False, "--resume", help=RESUME_HELP),
) -> None:
    """Train on each species, test on every species: AUROC matrix (TSV + heatmap).

    Example: genomic-ulmfit cross-species cohn.parquet --model cnn --out xsp/
    """
    from genomic_ulmfit.errors import ConfigError
    from genomic_ulmfit.evaluation.benchmark import check_models_available, cross_species

    if "," in model:
        raise ConfigError(f"--model {model}: cross-species runs one model at a time; run it once per model "
                          "with its own --out")
    check_models_available([model])
    _check_lm([model], lm, preset)
    genome = _check_copies([model], copies_genome)
    motif_source = _check_motifs([model], motifs)
    c = _console()
    matrix = cross_species(dataset, out, model=model, species=species, preset=preset, lm_dir=lm, pooled=pooled,
                           seed=seed, device=device, log=c.print, resume=resume, copies_genome=genome,
                           motifs=motif_source)
    c.print(matrix.round(3).to_string())
    c.print(f"[green]matrix → {out / 'cross_species.tsv'}, heatmap → {out / 'cross_species.png'}[/]")


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("demo_out"), "--out", "-o", help="Output directory."),
    species: int = typer.Option(4, "--species", help="Simulated species."),
    per_class: int = typer.Option(1000, "--per-class", help="Simulated sequences per class and species."),
    preset: str = typer.Option("demo", "--preset", help="Preset for ULMFiT/CNN (default: demo)."),
    models: str = typer.Option("kmer,cnn,gkm,ulmfit", "--models", help=MODELS_HELP),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
) -> None:
    """The whole pipeline on simulated data: simulate → import → split → LM pretrain → fine-tune →
    ULMFiT, CNN, k-mer LR and gkm-SVM → evaluate → per-species table and report (OUT/benchmark/report.md).

    Example: genomic-ulmfit demo --out demo_out --species 2 --per-class 500
    """
    from genomic_ulmfit.demo import run_demo

    if 0 < per_class < 100:
        _warn(f"--per-class {per_class}: each species' test split holds about {round(0.2 * per_class)} sequence(s), "
              "so its AUROC and CI say little; use 100 or more")
    run_demo(out, n_species=species, per_class=per_class, preset=preset, models=models, seed=seed,
             log=_console().print)


@app.command("cv")
def cv(
    dataset: Path = typer.Argument(..., help="Dataset (.parquet) or a TSV/CSV with sequence,label."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (cv_summary.tsv, cv_folds.tsv, "
                             "oof_scores.tsv, cv.json, runs/)."),
    models: str = typer.Option("kmer,cnn", "--models", help=MODELS_HELP),
    folds: int = typer.Option(5, "--folds", help="Number of folds (each one the test part once)."),
    preset: str = typer.Option("cpu", "--preset", help=PRESET_HELP),
    lm: Path | None = typer.Option(None, "--lm", help=LM_HELP),
    copies_genome: list[Path] | None = typer.Option(None, "--copies-genome", help=COPIES_HELP),
    motifs: str | None = typer.Option(None, "--motifs", help=MOTIFS_HELP),
    ensemble: bool = typer.Option(True, "--ensemble/--no-ensemble", help="Also score the ensemble of the models."),
    near_k: int | None = typer.Option(None, "--near-k", help="Keep near-duplicates (shared k-mers) in one fold."),
    species: str | None = typer.Option(None, "--species", help="Comma-separated species (default: all)."),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    device: str | None = typer.Option(None, "--device", help=DEVICE_HELP),
    resume: bool = typer.Option(False, "--resume", help=RESUME_HELP),
    fold: list[int] | None = typer.Option(
        None, "--fold", help="Fit only this fold (1-based; repeatable), e.g. one process per core sharing --out; "
        "then run once more over all folds with --resume for the summary."),
) -> None:
    """K-fold cross-validation: per-fold metrics (mean ± sd) and pooled out-of-fold AUROC [95% CI].

    Example: genomic-ulmfit cv ienhancer.parquet --models kmer,cnn,ulmfit --lm lm/ --folds 5 --out cv/
    """
    from genomic_ulmfit.data.dataset import read_table_or_dataset
    from genomic_ulmfit.evaluation.benchmark import check_models_available, parse_models
    from genomic_ulmfit.evaluation.cv import cross_validate
    from genomic_ulmfit.evaluation.evaluate import select_split

    names = parse_models(models)
    check_models_available(names)
    _check_lm(names, lm, preset)
    genome = _check_copies(names, copies_genome)
    motif_source = _check_motifs(names, motifs)
    df = select_split(read_table_or_dataset(dataset), None, _species_list(species))
    c = _console()
    summary, _ = cross_validate(df, out, models=names, folds=folds, preset=preset, lm_dir=lm, ensemble=ensemble,
                                near_k=near_k, seed=seed, device=device, log=c.print, resume=resume,
                                only_folds=[k - 1 for k in fold] if fold else None, copies_genome=genome,
                                motifs=motif_source)
    c.print(summary.to_string(index=False))
    if not fold or len(set(fold)) == folds:  # a partial run writes no summary
        c.print(f"[green]summary → {out / 'cv_summary.tsv'}[/]")


@app.command("holdout")
def holdout(
    train_file: Path = typer.Argument(..., help="Training data: TSV/CSV (sequence,label), FASTA+label or dataset."),
    test_file: Path = typer.Argument(..., help="Test data (labels optional)."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for scores.tsv, metrics.json and runs/."),
    lm: Path | None = typer.Option(None, "--lm", help=LM_HELP),
    models: str = typer.Option(",".join(("kmer", "cnn", "gkm", "ulmfit")), "--models", help=MODELS_HELP),
    copies_genome: list[Path] | None = typer.Option(None, "--copies-genome", help=COPIES_HELP),
    motifs: str | None = typer.Option(None, "--motifs", help=MOTIFS_HELP),
    preset: str = typer.Option("cpu", "--preset", help=PRESET_HELP),
    seed: int = typer.Option(0, "--seed", help=SEED_HELP),
    device: str | None = typer.Option(None, "--device", help=DEVICE_HELP),
    resume: bool = typer.Option(False, "--resume", help=RESUME_HELP),
) -> None:
    """The recommended recipe (k-mer LR + modern CNN + gkm-SVM + ULMFiT, ensembled) trained on TRAIN, scored on TEST.

    Example: genomic-ulmfit holdout train.tsv.gz test.tsv.gz --lm lm/ --out holdout/
    """
    from genomic_ulmfit.evaluation.benchmark import check_models_available, parse_models
    from genomic_ulmfit.evaluation.holdout import run_holdout

    names = parse_models(models)
    check_models_available(names)
    _check_lm(names, lm, preset)
    genome = _check_copies(names, copies_genome)
    motif_source = _check_motifs(names, motifs)
    c = _console()
    metrics = run_holdout(train_file, test_file, out, lm_dir=lm, models=names, preset=preset, seed=seed,
                          device=device, log=c.print, resume=resume, warn=_warn, copies_genome=genome,
                          motifs=motif_source)
    for label, m in (metrics.get("test_metrics") or {}).items():
        roc = "n/a" if m["auroc"] is None else f"{m['auroc']:.4f}"
        if m["auroc_lo"] is not None:
            roc += f" [{m['auroc_lo']:.4f}, {m['auroc_hi']:.4f}]"
        mcc = "n/a" if m["mcc"] is None else f"{m['mcc']:.4f}"
        c.print(f"{label:10s} AUROC {roc}  accuracy {m['accuracy']:.4f}  MCC {mcc}")
    c.print(f"[green]scores → {out / 'scores.tsv'}, metrics → {out / 'metrics.json'} "
            f"({metrics['wall_seconds']:.0f} s)[/]")


@app.command("ensemble")
def ensemble_cmd(
    runs: list[Path] = typer.Argument(..., help="Run directories written by 'train' (two or more)."),
    dataset: Path = typer.Option(..., "--data", "-d", help="Dataset whose calibration split standardises the members."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory for the ensemble (model.json)."),
    split: str = typer.Option("valid", "--split", help="Calibration rows: they standardise the members and, "
                              "when labelled, choose the weights."),
    species: str | None = typer.Option(None, "--species", help="Comma-separated species (default: all)."),
    weights: str | None = typer.Option(None, "--weights", help="Comma-separated member weights (default: chosen "
                                       "on the labelled calibration rows: members within 0.03 AUROC of the best)."),
) -> None:
    """Combine saved runs into one model: the mean of standardised logits (see models/ensemble.py).

    Example: genomic-ulmfit ensemble runs/kmer runs/cnn runs/ulmfit --data data.parquet --out runs/ensemble
    """
    from genomic_ulmfit.data.dataset import load_dataset
    from genomic_ulmfit.errors import ConfigError
    from genomic_ulmfit.evaluation.evaluate import select_split
    from genomic_ulmfit.models.ensemble import EnsembleModel, parse_weights

    if len(runs) < 2:
        raise ConfigError("ensemble: give two or more run directories")
    _check_out(out, resume=False, fix="choose a new --out or remove this one")
    _refuse_repeated(runs, "ensemble", "it would count double")
    w = parse_weights(weights) if weights else None
    calib = select_split(load_dataset(dataset), split, _species_list(species))
    labels = calib["label"].to_numpy() if (calib["label"] >= 0).all() else None
    ens = EnsembleModel([str(r) for r in runs], w).fit(calib["sequence"].tolist(), labels)
    ens.save(out)
    if split == "test" and labels is not None:
        _warn("the ensemble is calibrated on the test split, and its weights chosen on its labels: its scores on "
              "the test split will be optimistic; calibrate on --split valid")
    chosen = "" if w is not None or labels is None else f", weights chosen on them: {ens.weights_}"
    _console().print(f"[green]ensemble of {len(runs)} runs → {out}[/] (calibrated on {len(calib):,} {split} "
                     f"sequences{chosen})")
