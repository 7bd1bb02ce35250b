"""How much accuracy any decision threshold could add to a finished `genomic-ulmfit cv` run.

For each model of the run: the mean over folds of the accuracy at P = 0.5 (what `cv` reports, read
from CV_DIR/cv_summary.tsv) and at the best threshold of each test fold (from oof_scores.tsv),
picked on that test fold itself. The second is an upper bound for every threshold rule (tuned on
validation data or not), not a result.

Usage: .venv/bin/python benchmarks/threshold_ceiling.py CV_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def best_accuracy(y: np.ndarray, s: np.ndarray) -> float:
    """Highest accuracy of ``score >= t`` over every threshold t (including 'all negative')."""
    order = np.argsort(-s, kind="stable")
    y, s = y[order], s[order]
    tp = np.cumsum(y)  # predicting the top i+1 scores positive
    tn = (y == 0).sum() - np.cumsum(y == 0)
    cut = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # only between distinct scores
    return float(max((tp[cut] + tn[cut]).max(), (y == 0).sum()) / len(y))


def main(cv_dir: str) -> None:
    oof = pd.read_csv(Path(cv_dir) / "oof_scores.tsv", sep="\t")
    at_half = pd.read_csv(Path(cv_dir) / "cv_summary.tsv", sep="\t").set_index("model")["accuracy_mean"]
    print(f"{'model':12s} accuracy at 0.5   at the test fold's best threshold (upper bound)")
    for model, g in oof.groupby("model", sort=False):
        best = [best_accuracy(f["label"].to_numpy(), f["score"].to_numpy()) for _, f in g.groupby("fold")]
        print(f"{model:12s} {at_half[model]:.4f}            {np.mean(best):.4f}")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__) or 0)
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("Usage: ")[1].strip())
    main(sys.argv[1])
