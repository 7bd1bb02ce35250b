"""The recommended CPU recipe scored on an external labelled test set.

Train on TRAIN only (10% of it held out for epoch selection and ensemble calibration): the k-mer
LR, the modern CNN, the gapped k-mer SVM and ULMFiT (genome-pretrained LM fine-tuned on TRAIN's
training sequences),
combined by :class:`~genomic_ulmfit.models.ensemble.EnsembleModel` (weights chosen on the held-out
10%); score TEST. The train/valid assignment is saved as ``OUT/train_split.parquet``.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from genomic_ulmfit.data.copies import genome_record
from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.models.names import uses_motifs
from genomic_ulmfit.utils import rich_log, write_json_atomic, write_text_atomic

RECIPE_MODELS = ("kmer", "cnn", "gkm", "ulmfit")


def run_holdout(
    train_path: str | os.PathLike,
    test_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    lm_dir: str | os.PathLike | None = None,
    models: Sequence[str] = RECIPE_MODELS,
    preset: str = "cpu",
    seed: int = 0,
    n_boot: int = 1000,
    device: str | None = None,
    progress: bool = True,
    log: Callable[[str], None] = rich_log,
    resume: bool = False,
    warn: Callable[[str], None] | None = None,
    copies_genome: Sequence[str | os.PathLike] = (),
    motifs: str = "jaspar",
) -> dict:
    """Fit the recipe on ``train_path``, write ``scores.tsv`` and ``metrics.json`` for ``test_path``.

    Returns the metrics dict (per member and for the ensemble, when TEST has labels). With
    ``resume``, members already fitted with the same settings are loaded, not refitted.

    ``warn`` (a callable taking a string; default ``log``) is told, before anything is fitted,
    when TEST sequences also occur in TRAIN (identical or reverse complement: their scores are
    not out-of-sample; ``metrics.json`` counts them as ``test_in_train``), and when TEST's labels
    are all one class (AUROC/AUPRC/MCC are then undefined and written as null).
    """
    from genomic_ulmfit.data.dataset import read_table_or_dataset, save_dataset
    from genomic_ulmfit.data.leakage import leakage_report
    from genomic_ulmfit.evaluation.benchmark import fit_for
    from genomic_ulmfit.evaluation.metrics import (
        UndefinedMetricWarning,
        binary_metrics,
        bootstrap_ci,
        undefined_reason,
    )
    from genomic_ulmfit.models.ensemble import EnsembleModel
    from genomic_ulmfit.models.estimators import holdout_split

    t0 = time.time()
    out = Path(out_dir)
    labels = {name.replace(":", "-") for name in models} | {"ensemble"}
    stale = sorted(d.name for d in (out / "runs").iterdir() if d.is_dir() and d.name not in labels) \
        if (out / "runs").is_dir() else []
    if stale:  # they would sit beside this call's members as if they were part of it
        raise ConfigError(f"{out}/runs holds members of an earlier holdout ({', '.join(stale)}) that this call does "
                          "not fit; choose a new --out, or remove them")
    out.mkdir(parents=True, exist_ok=True)
    train = read_table_or_dataset(train_path).copy()
    test = read_table_or_dataset(test_path, require_label=False)
    warn = warn or log
    overlap = leakage_report(train, test)
    in_train = overlap.b_exact_in_a + overlap.b_rc_in_a
    if in_train:
        warn(f"{test_path}: {in_train:,} of {len(test):,} test sequences also occur in {train_path} (identical or "
             f"reverse complement): their scores are not out-of-sample; remove them from one file "
             f"('genomic-ulmfit data check {train_path} {test_path}' lists them)")
    labelled = "label" in test.columns and (test["label"] >= 0).all()
    undefined = undefined_reason(test["label"].to_numpy()) if labelled else None
    if undefined:
        warn(f"{test_path}: {undefined} (null in metrics.json); score a test set with both classes to compare models")
    split = np.full(len(train), "train", dtype=object)
    _, va = holdout_split(train["label"].to_numpy(np.int64), 0.1, seed)
    split[va] = "valid"
    train["split"] = split
    # The split itself, so runs from several holdout calls on the same TRAIN can be ensembled later
    # (genomic-ulmfit ensemble RUN... --data OUT/train_split.parquet).
    save_dataset(train, out / "train_split.parquet")
    fitted, seconds = {}, {}
    for name in models:
        label = name.replace(":", "-")
        log(f"[bold]{label}[/]: training on {int((split == 'train').sum()):,} sequences "
            f"({len(va):,} held out for validation)")
        fitted[label], seconds[label] = fit_for(name, train, out / "runs" / label, preset=preset, lm_dir=lm_dir,
                                                seed=seed, device=device, progress=progress, resume=resume,
                                                log=log, dataset_path=out / "train_split.parquet",
                                                copies_genome=copies_genome, motifs=motifs)
        log(f"   {seconds[label]:.0f} s")
    valid = train[train["split"] == "valid"]
    runs = {str(out / "runs" / label): m for label, m in fitted.items()}
    ens = (EnsembleModel.from_models(runs, valid["sequence"].tolist(), valid["label"].to_numpy())
           if len(fitted) > 1 else None)
    if ens is not None:
        ens.save(out / "runs" / "ensemble")
    seqs = test["sequence"].tolist()
    member_scores = {label: m.predict_proba(seqs) for label, m in fitted.items()}
    score = ens.combine(list(member_scores.values())) if ens is not None else next(iter(member_scores.values()))
    table = test[["id"]].copy()
    table["score"] = score
    if labelled:
        table["label"] = test["label"].astype(int).to_numpy()
    write_text_atomic(out / "scores.tsv", table.to_csv(sep="\t", index=False, float_format="%.6f"))
    metrics: dict = {"train": str(train_path), "test": str(test_path), "models": list(fitted),
                     "final": "ensemble" if ens is not None else next(iter(fitted)), "lm": str(lm_dir) if lm_dir else None,
                     "copies_genome": genome_record(copies_genome),
                     "motifs": motifs if any(map(uses_motifs, models)) else None, "preset": preset, "seed": seed, "train_seconds": {k: round(v, 1) for k, v in seconds.items()},
                     "wall_seconds": None, "n_train": int(len(train)), "n_test": int(len(test)),
                     "test_in_train": int(in_train)}
    if labelled:
        y = table["label"].to_numpy()
        per = {**member_scores, **({"ensemble": score} if ens is not None else {})}
        metrics["test_metrics"] = {}
        for label, p in per.items():
            with warnings.catch_warnings():  # an undefined metric was said once above, in the user's terms
                warnings.simplefilter("ignore", UndefinedMetricWarning)
                m = binary_metrics(y, p)
            m["auroc_lo"], m["auroc_hi"] = bootstrap_ci(y, p, "auroc", n_boot=n_boot, seed=seed)
            metrics["test_metrics"][label] = {k: None if v != v else v for k, v in m.items()}  # NaN → null
    metrics["wall_seconds"] = round(time.time() - t0, 1)
    write_json_atomic(out / "metrics.json", metrics)
    return metrics
