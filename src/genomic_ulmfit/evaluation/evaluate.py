"""Evaluate fitted models on a dataset split: per-species metrics, CIs, curves and tables."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genomic_ulmfit.errors import InputError
from genomic_ulmfit.utils import json_records, write_json_atomic, write_text_atomic


def select_split(df, split: str | None, species: list[str] | None = None):
    """Rows of ``df`` in ``split`` (``None``/"all" keeps every row) and in ``species`` (if given)."""
    out = df
    if species:
        known = set(out["species"].unique())
        unknown = [s for s in species if s not in known]
        if unknown:
            raise InputError(
                f"species {', '.join(unknown)} not in the dataset; it has {', '.join(sorted(known))}"
            )
        out = out[out["species"].isin(species)]
    if split not in (None, "all"):
        present = sorted({str(v) for v in df["split"].dropna() if str(v)}) if "split" in df.columns else []
        if split not in present:
            have = f"it has {', '.join(present)}" if present else "run 'genomic-ulmfit data split' first"
            raise InputError(f"the dataset has no rows in split {split!r}; {have}, or pass --split all")
        empty = [s for s in species or [] if not ((out["species"] == s) & (out["split"] == split)).any()]
        if empty:
            raise InputError(f"species {', '.join(empty)} has no rows in split {split!r}; "
                             "leave it out of --species or choose another --split")
        out = out[out["split"] == split]
    return out


def score_table(models: Mapping[str, Any], df, *, batch_size: int | None = None,
                paths: Mapping[str, str | os.PathLike] | None = None) -> Any:
    """Long table (model, id, species, label, score) of every model's P(enhancer) on ``df``.

    ``paths`` ({name: run directory}, optional) says where each model was loaded from: a run that
    is also a member of an ensemble in ``models`` (same directory) is then scored once, and the
    ensemble combines its members' scores (:func:`shared_scores`).
    """
    import pandas as pd

    parts = []
    seqs = df["sequence"].tolist()
    score = shared_scores(seqs, batch_size=batch_size)
    for name, model in models.items():
        scores = score(model, (paths or {}).get(name))
        parts.append(
            pd.DataFrame(
                {
                    "model": name,
                    "id": df["id"].to_numpy(),
                    "species": df["species"].to_numpy(),
                    "label": df["label"].to_numpy().astype(np.int64),
                    "score": scores,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def shared_scores(seqs: Sequence[str], *, batch_size: int | None = None
                  ) -> Callable[[Any, str | os.PathLike | None], np.ndarray]:
    """A ``score(model, run_dir)`` function for ``seqs`` that scores each run directory once.

    A loaded ensemble is scored by combining its members' scores, each member looked up by its
    run directory, so an ensemble evaluated beside its own members (or two ensembles sharing
    members) does not run those members again. Scores are float64 P(enhancer), shape (n,).
    """
    from genomic_ulmfit.models.ensemble import EnsembleModel

    done: dict[str, np.ndarray] = {}

    def score(model, run_dir: str | os.PathLike | None = None) -> np.ndarray:
        key = os.path.realpath(run_dir) if run_dir is not None else None
        if key is not None and key in done:
            return done[key]
        if isinstance(model, EnsembleModel) and getattr(model, "models_", None):
            out = model.combine([score(m, d) for m, d in zip(model.models_, model.members, strict=True)])
        else:
            out = np.asarray(model.predict_proba(seqs, batch_size=batch_size), dtype=np.float64)
        if key is not None:
            done[key] = out
        return out

    return score


def evaluate_scores(
    scores,
    out_dir: str | os.PathLike | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    title: str = "Evaluation",
    plots: bool = True,
):
    """Metrics per (model, species) from a score table; optionally writes files to ``out_dir``.

    Writes ``metrics.json``, ``metrics.md``, ``scores.tsv``, ``delong.tsv`` (each model against the
    best one per species, paired DeLong test; with two or more models) and one ROC/PR PNG per species.
    Returns the metrics DataFrame (columns as :func:`evaluate_predictions`).
    """
    from genomic_ulmfit.evaluation.metrics import delong_vs_best, evaluate_predictions
    from genomic_ulmfit.evaluation.report import format_table

    results = evaluate_predictions(scores, n_boot=n_boot, seed=seed)
    if out_dir is None:
        return results
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    delong = delong_vs_best(scores) if "id" in scores.columns and scores["model"].nunique() > 1 else None
    write_json_atomic(out / "metrics.json", {"title": title, "seed": seed, "n_boot": n_boot,
                                             "results": json_records(results),
                                             "delong_vs_best": None if delong is None else json_records(delong)})
    if delong is not None:
        write_text_atomic(out / "delong.tsv", delong.to_csv(sep="\t", index=False, float_format="%.6g"))
    write_text_atomic(out / "metrics.md", f"# {title}\n\n" + format_table(results) + "\n")
    write_text_atomic(out / "scores.tsv", scores.to_csv(sep="\t", index=False))
    if plots:
        plot_curves(scores, out)
    return results


def plot_curves(scores, out_dir: Path) -> dict[str, Path]:
    """One ROC/PR figure per species (all models in it): ``roc_pr_<species>.png``."""
    from genomic_ulmfit.evaluation.plots import plot_roc_pr

    paths = {}
    for species, sub in scores.groupby("species", sort=False):
        curves = {
            str(m): (g["label"].to_numpy(), g["score"].to_numpy()) for m, g in sub.groupby("model", sort=False)
        }
        if sub["label"].nunique() < 2:
            continue
        name = f"roc_pr_{_slug(str(species))}.png"
        paths[f"ROC and PR: {species}"] = plot_roc_pr(curves, out_dir / name, title=str(species))
    return paths


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def run_names(run_dirs: Sequence[str | os.PathLike]) -> list[str]:
    """Short unique labels for run directories: the directory name, or as many trailing path parts
    as it takes to tell same-named runs apart (``a/runs/ulmfit`` vs ``b/runs/ulmfit``)."""
    parts = [Path(os.path.abspath(rd)).parts for rd in run_dirs]
    names = ["/".join(p[-1:]) for p in parts]
    for depth in range(2, max(map(len, parts), default=1) + 1):
        clash = {n for n in names if names.count(n) > 1}
        if not clash:
            break
        names = ["/".join(p[-depth:]) if n in clash else n for n, p in zip(names, parts)]
    return names


def evaluate_run(
    run_dirs: list[str | os.PathLike],
    dataset,
    *,
    split: str = "test",
    species: list[str] | None = None,
    out_dir: str | os.PathLike | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    batch_size: int | None = None,
    warn: Callable[[str], None] | None = None,
):
    """Load saved runs and evaluate them on ``dataset`` (a DataFrame or a dataset path).

    ``warn``, when given, is told of every run that was trained on some of the evaluated sequences
    (:func:`~genomic_ulmfit.training.runs.training_overlap`): their scores are optimistic.
    Returns ``(metrics DataFrame, score table)``.
    """
    from genomic_ulmfit.data.dataset import load_dataset
    from genomic_ulmfit.models.base import load_model
    from genomic_ulmfit.training.runs import warn_if_unlike_training

    df = load_dataset(dataset) if isinstance(dataset, (str, os.PathLike)) else dataset
    part = select_split(df, split, species)
    if warn is not None:
        for rd in run_dirs:
            warn_if_unlike_training(rd, part["sequence"].tolist(), f"split {split!r}", warn)
    names = run_names(run_dirs)
    models = {name: load_model(rd) for name, rd in zip(names, run_dirs)}
    scores = score_table(models, part, batch_size=batch_size, paths=dict(zip(names, run_dirs)))
    results = evaluate_scores(scores, out_dir, n_boot=n_boot, seed=seed, title=f"Evaluation on split {split}")
    return results, scores
