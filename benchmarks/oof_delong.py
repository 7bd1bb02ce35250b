"""Paired DeLong tests on the pooled out-of-fold scores of a finished `genomic-ulmfit cv` run.

Every sequence of the data set has one out-of-fold score per model (CV_DIR/oof_scores.tsv), so two
models can be compared on all of them at once. The folds' models differ, so read the p-value as a
guide (as RESULTS.md does), not as an exact test.

Usage: .venv/bin/python benchmarks/oof_delong.py CV_DIR[,CV_DIR...] MODEL_A MODEL_B [MODEL_A MODEL_B ...]
       (model names as in cv_summary.tsv, e.g. gkm kmer ensemble gkm; several CV_DIRs, comma-separated, must
       be runs on the same folds: a model in more than one is taken from the first that has it)
"""

from __future__ import annotations

import sys

import pandas as pd

from genomic_ulmfit.evaluation.metrics import delong_test


def main(cv_dir: str, *models: str) -> None:
    if len(models) < 2 or len(models) % 2:
        sys.exit("give pairs of models: CV_DIR A B [A B ...]")
    oof = pd.concat([pd.read_csv(f"{d}/oof_scores.tsv", sep="\t") for d in cv_dir.split(",")])
    oof = oof.drop_duplicates(["model", "id"])  # the first run that has a model gives its scores
    scores = oof.pivot_table(index="id", columns="model", values="score")
    y = oof.groupby("id")["label"].first().loc[scores.index].to_numpy()
    missing = sorted(set(models) - set(scores.columns))
    if missing:
        sys.exit(f"{cv_dir}/oof_scores.tsv has no model {', '.join(missing)}; it has {', '.join(scores.columns)}")
    print(f"{len(y):,} sequences, pooled out-of-fold")
    for a, b in zip(models[::2], models[1::2]):
        auc_a, auc_b, z, p = delong_test(y, scores[a].to_numpy(), scores[b].to_numpy())
        print(f"{a} {auc_a:.4f} vs {b} {auc_b:.4f}: z = {z:.2f}, p = {p:.2g}")


if __name__ == "__main__":
    main(*sys.argv[1:])
