"""Each member of a finished ``holdout`` run scored on its TEST file, with paired DeLong tests.

``holdout`` saves the final (ensemble) scores only; this reloads every member saved under
``OUT/runs``, scores TEST, and prints each member's AUROC, the paired DeLong test of every pair
(AUROC a, AUROC b, z, p) and the members' Spearman rank correlations.

Usage: .venv/bin/python benchmarks/holdout_members.py OUT_DIR TEST.tsv.gz
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pandas as pd

from genomic_ulmfit.data.dataset import read_table_or_dataset
from genomic_ulmfit.errors import GenomicUlmfitError
from genomic_ulmfit.evaluation.metrics import auroc, delong_test
from genomic_ulmfit.models.base import load_model


def main(out_dir: str, test: str) -> None:
    df = read_table_or_dataset(test)
    y, seqs = df["label"].to_numpy(), df["sequence"].tolist()
    runs = sorted(p for p in (Path(out_dir) / "runs").iterdir() if (p / "model.json").is_file())
    scores = {p.name: load_model(p).predict_proba(seqs) for p in runs}
    for name, s in scores.items():
        print(f"{name:10s} AUROC {auroc(y, s):.4f}")
    for a, b in itertools.combinations(scores, 2):
        auc_a, auc_b, z, p = delong_test(y, scores[a], scores[b])
        print(f"{a} vs {b}: {auc_a:.4f} vs {auc_b:.4f}, z {z:+.2f}, p {p:.3g}")
    print(pd.DataFrame(scores).corr(method="spearman").round(3).to_string())


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]) or len(sys.argv) != 3:
        sys.exit(print(__doc__) or (0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2))
    try:
        main(*sys.argv[1:])
    except GenomicUlmfitError as exc:
        sys.exit(f"error: {exc}")
