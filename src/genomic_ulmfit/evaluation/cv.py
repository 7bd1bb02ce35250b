"""K-fold cross-validation of several models (and their ensemble) on one dataset.

Folds are stratified per species × label with exact/reverse-complement duplicates (and, with
``near_k``, near-duplicates) kept in one fold. For fold ``k`` the models train on the other folds
(10% of them held out as validation for epoch selection and ensemble calibration) and score fold
``k``; the out-of-fold scores of all folds give pooled metrics with bootstrap CIs, and the
per-fold metrics give mean ± sd.

Each fitted fold model saves its scores of the fold's test sequences (and, for the ensemble, of
its validation sequences) beside its fit (``FOLD_SCORES``), so a later run with ``resume`` (say the one that gathers folds fitted by
separate ``only_folds`` processes) reads them instead of scoring again: for a genome-LM ULMFiT on
long sequences (VISTA) that scoring takes minutes per fold on one CPU thread.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from genomic_ulmfit.data.copies import genome_record
from genomic_ulmfit.models.names import uses_motifs
from genomic_ulmfit.utils import json_records, rich_log, write_json_atomic, write_text_atomic

FOLD_METRICS = ("auroc", "auprc", "accuracy", "mcc")
FOLD_SCORES = "fold_scores.json"


def fold_frame(df, k: int, seed: int, valid_frac: float = 0.1):
    """Copy of ``df`` (with a ``fold`` column) whose ``split`` is test for fold ``k``, else train/valid."""
    from genomic_ulmfit.models.estimators import holdout_split

    out = df.copy()
    test = (out["fold"] == k).to_numpy()
    split = np.where(test, "test", "train").astype(object)
    train_idx = np.flatnonzero(~test)
    _, va = holdout_split(out["label"].to_numpy()[train_idx], valid_frac, seed + k)
    split[train_idx[va]] = "valid"
    out["split"] = split
    return out


def _check_folds(only_folds: Sequence[int] | None, folds: int) -> list[int]:
    """The sorted 0-based folds to run: all of them, or ``only_folds`` checked to lie in range."""
    from genomic_ulmfit.errors import ConfigError

    if only_folds is None:
        return list(range(folds))
    todo = sorted({int(k) for k in only_folds})
    bad = [k for k in todo if not 0 <= k < folds]
    if not todo or bad:
        raise ConfigError(f"fold(s) {', '.join(str(k + 1) for k in bad) or '(none)'} not in 1..{folds}; "
                          f"pass --fold between 1 and --folds")
    return todo


def fold_scores(model, run_dir: Path, sets: dict[str, list[str]], *, resume: bool) -> dict[str, np.ndarray]:
    """``model``'s scores of each named list of sequences, saved in ``run_dir/FOLD_SCORES``.

    With ``resume`` the saved scores are returned instead when they belong to the fit now in
    ``run_dir`` (its ``FIT_RECORD``, which changes with every fit) and to these very sequences.
    """
    from genomic_ulmfit import __version__
    from genomic_ulmfit.evaluation.benchmark import FIT_RECORD, _read_record

    record = _read_record(run_dir / FIT_RECORD)
    fit = {**record, "code": __version__}  # scores of another version's code are not reused
    inputs = {name: hashlib.sha256("\n".join(seqs).encode()).hexdigest() for name, seqs in sets.items()}
    path = run_dir / FOLD_SCORES
    if resume and record:
        saved = _read_record(path)
        if saved.get("fit") == fit and saved.get("inputs") == inputs:
            return {name: np.asarray(saved["scores"][name], dtype=np.float64) for name in sets}
    scores = {name: np.asarray(model.predict_proba(seqs), dtype=np.float64) for name, seqs in sets.items()}
    if record:
        write_json_atomic(path, {"fit": fit, "inputs": inputs, "scores": {k: v.tolist() for k, v in scores.items()}})
    return scores


def cross_validate(
    df,
    out_dir: str | os.PathLike,
    *,
    models: Sequence[str] = ("kmer", "cnn"),
    folds: int = 5,
    preset: str = "cpu",
    lm_dir: str | os.PathLike | None = None,
    ensemble: bool = True,
    near_k: int | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    device: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = rich_log,
    resume: bool = False,
    only_folds: Sequence[int] | None = None,
    copies_genome: Sequence[str | os.PathLike] = (),
    motifs: str = "jaspar",
):
    """Run ``folds``-fold CV; returns ``(summary DataFrame, out-of-fold score table)``.

    Writes ``cv_summary.tsv`` (per model: mean ± sd of the per-fold metrics and the pooled
    out-of-fold AUROC with 95% CI), ``cv_folds.tsv`` (every fold) and ``oof_scores.tsv``.
    With ``resume``, models already fitted for a fold with the same settings are loaded, not
    refitted (see :func:`~genomic_ulmfit.evaluation.benchmark.fit_for`), and their saved scores
    are reused (see :func:`fold_scores`).

    ``only_folds`` (0-based fold numbers) fits and scores just those folds, e.g. one process per
    core or machine sharing ``out_dir``; the summary returned covers only them, and no ``cv_*``
    file is written. A later run over all folds with ``resume`` loads their fits.
    """
    import pandas as pd

    from genomic_ulmfit.data.split import assign_folds, split_problems
    from genomic_ulmfit.errors import ConfigError
    from genomic_ulmfit.evaluation.benchmark import fit_for
    from genomic_ulmfit.evaluation.metrics import binary_metrics, bootstrap_ci
    from genomic_ulmfit.models.ensemble import EnsembleModel

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    todo = _check_folds(only_folds, folds)
    base = assign_folds(df.drop(columns=["split", "fold"], errors="ignore"), k=folds, seed=seed, near_k=near_k)
    problems = split_problems(base, None, folds)
    if problems:  # a fold without both classes has no AUROC: the summary would average the others silently
        raise ConfigError(f"{len(df):,} sequences in {folds} folds: {problems[0]}")
    rows, scores = [], []
    for k in todo:
        part = fold_frame(base, k, seed)
        test, valid = part[part["split"] == "test"], part[part["split"] == "valid"]
        sets = {"test": test["sequence"].tolist()}
        if ensemble and len(models) > 1:
            sets["valid"] = valid["sequence"].tolist()
        fitted, seconds, probs = {}, {}, {}
        for name in models:
            label = name.replace(":", "-")
            log(f"fold {k + 1}/{folds} · {label}")
            run_dir = out / "runs" / label / f"fold{k}"
            fitted[label], seconds[label] = fit_for(
                name, part[part["split"].isin(["train", "valid"])], run_dir, preset=preset, lm_dir=lm_dir,
                seed=seed, device=device, progress=progress, resume=resume, log=log, copies_genome=copies_genome,
                motifs=motifs,
            )
            probs[label] = fold_scores(fitted[label], run_dir, sets, resume=resume)
        if ensemble and len(fitted) > 1:
            members = [str(out / "runs" / label / f"fold{k}") for label in fitted]
            ens = EnsembleModel.from_scores(members, [s["valid"] for s in probs.values()], valid["label"].to_numpy())
            probs["ensemble"] = {"test": ens.combine([s["test"] for s in probs.values()])}
            seconds["ensemble"] = sum(seconds.values())
        for label, s in probs.items():
            p, y = s["test"], test["label"].to_numpy(np.int64)
            m = binary_metrics(y, p)
            rows.append({"model": label, "fold": k, "n_test": len(y), "n_positive": int(y.sum()),
                         "seconds": round(seconds[label], 1),
                         **{key: m[key] for key in FOLD_METRICS}})
            scores.append(pd.DataFrame({"model": label, "fold": k, "id": test["id"].to_numpy(),
                                        "species": test["species"].to_numpy(), "label": y, "score": p}))
    per_fold = pd.DataFrame(rows)
    oof = pd.concat(scores, ignore_index=True)
    summary = []
    for label, g in per_fold.groupby("model", sort=False):
        o = oof[oof["model"] == label]
        lo, hi = bootstrap_ci(o["label"].to_numpy(), o["score"].to_numpy(), "auroc", n_boot=n_boot, seed=seed)
        pooled = binary_metrics(o["label"].to_numpy(), o["score"].to_numpy())
        row = {"model": label, "folds": len(g)}
        for key in FOLD_METRICS:
            row[f"{key}_mean"] = round(float(g[key].mean()), 4)
            row[f"{key}_sd"] = round(float(g[key].std(ddof=1)), 4)
        row.update({"oof_auroc": round(pooled["auroc"], 4), "oof_auroc_lo": round(lo, 4),
                    "oof_auroc_hi": round(hi, 4), "seconds_per_fold": round(float(g["seconds"].mean()), 1)})
        summary.append(row)
    summary = pd.DataFrame(summary)
    if len(todo) < folds:
        log(f"fitted fold(s) {', '.join(str(k + 1) for k in todo)} of {folds}; no cv_* file written: "
            f"run again over all folds with resume for the full CV")
        return summary, oof
    write_text_atomic(out / "cv_summary.tsv", summary.to_csv(sep="\t", index=False))
    write_text_atomic(out / "cv_folds.tsv", per_fold.to_csv(sep="\t", index=False))
    write_text_atomic(out / "oof_scores.tsv", oof.to_csv(sep="\t", index=False, float_format="%.6f"))
    write_json_atomic(out / "cv.json", {"folds": folds, "seed": seed, "near_k": near_k, "preset": preset,
                                        "species": sorted(map(str, df["species"].unique())), "rows": int(len(df)),
                                        "lm": str(lm_dir) if lm_dir else None, "models": list(models),
                                        "copies_genome": genome_record(copies_genome),
                                        "motifs": motifs if any(map(uses_motifs, models)) else None,
                                        "summary": json_records(summary)})
    return summary, oof
