"""Learning curve on a fixed TEST: the recipe's models trained on nested, label-stratified subsets
of TRAIN (1/8, 1/4, 1/2, all), so one can see how far each model is from saturating and where
genome pretraining pays most.

Usage: .venv/bin/python benchmarks/learning_curve.py TRAIN.tsv.gz TEST.tsv.gz OUT_DIR
           [--models kmer,cnn:modern,ulmfit:noft] [--lm LM_DIR] [--fractions 0.125,0.25,0.5,1]
           [--seeds 0]
Every (fraction, seed) is one `genomic-ulmfit holdout` run in OUT_DIR/f<fraction>_s<seed>/ (10% of
the subset held out for validation, as holdout.sh does; resumable), and OUT_DIR/learning_curve.tsv
collects the test AUROC of every member and of the ensemble. The subsets are nested: for one seed
the 1/4 subset contains the 1/8 one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from genomic_ulmfit.data.dataset import read_table_or_dataset
from genomic_ulmfit.evaluation.holdout import run_holdout


def nested_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Row indices of a label-stratified ``fraction`` of the rows; for one seed, a smaller
    fraction's rows are a prefix of a larger one's (per label)."""
    rng = np.random.default_rng([seed, 7])
    keep = []
    for lab in np.unique(labels):
        rows = np.flatnonzero(labels == lab)
        rows = rows[rng.permutation(len(rows))]
        keep.append(rows[: max(1, round(fraction * len(rows)))])
    return np.sort(np.concatenate(keep))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("out")
    ap.add_argument("--models", default="kmer,cnn:modern,ulmfit:noft")
    ap.add_argument("--lm", default=None)
    ap.add_argument("--fractions", default="0.125,0.25,0.5,1")
    ap.add_argument("--seeds", default="0")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    train = read_table_or_dataset(a.train)
    labels = train["label"].to_numpy(np.int64)
    rows = []
    for seed in (int(s) for s in a.seeds.split(",")):
        for frac in (float(f) for f in a.fractions.split(",")):
            run = out / f"f{frac:g}_s{seed}"
            run.mkdir(exist_ok=True)
            subset = train.iloc[nested_subset(labels, frac, seed)]
            subset[["id", "sequence", "label"]].to_csv(run / "train.tsv.gz", sep="\t", index=False)
            print(f"=== fraction {frac:g}, seed {seed}: {len(subset):,} training sequences", flush=True)
            metrics = run_holdout(run / "train.tsv.gz", a.test, run, lm_dir=a.lm, models=a.models.split(","),
                                  seed=seed, progress=False, resume=True)
            seconds = metrics.get("train_seconds", {})
            for model, m in metrics["test_metrics"].items():
                rows.append({"fraction": frac, "seed": seed, "n_train": len(subset), "model": model,
                             "auroc": m["auroc"], "accuracy": m["accuracy"], "seconds": seconds.get(model)})
            table = pd.DataFrame(rows)
            table.to_csv(out / "learning_curve.tsv", sep="\t", index=False)
    summary = table.pivot_table(index="n_train", columns="model", values="auroc", aggfunc="mean")
    print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
