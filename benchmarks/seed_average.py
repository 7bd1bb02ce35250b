"""AUROC of each saved score file and of their mean logit (e.g. two seeds of one model on one test set).

Usage: .venv/bin/python benchmarks/seed_average.py SCORES [SCORES ...]
  SCORES: a scores.tsv with columns id, score (and label), as `holdout` writes it; or
  PATH:MODEL to take the rows of one model from an `evaluate` scores.tsv (columns model, id, score, label).
Labels come from the first file that has them; rows are matched on id.
Example (RESULTS.md, "ULMFiT and the genome LM's length"):
  benchmarks/seed_average.py WORK/cohn_ulmfit48_seed0/scores.tsv WORK/cohn_ulmfit48_seed1/scores.tsv
"""

from __future__ import annotations

import sys

import pandas as pd
from sklearn.metrics import roc_auc_score

from genomic_ulmfit.models.ensemble import logit


def read_scores(spec: str) -> pd.DataFrame:
    path, sep, model = spec.partition(".tsv:")
    path += ".tsv" if sep else ""
    df = pd.read_csv(path, sep="\t")
    if model:
        df = df[df["model"] == model]
        if df.empty:
            sys.exit(f"{path}: no rows for model {model!r}")
    return df[[c for c in ("id", "score", "label") if c in df.columns]]


def main(specs: list[str]) -> None:
    if not specs:
        sys.exit(__doc__)
    parts = [read_scores(s) for s in specs]
    labels = next((p.set_index("id")["label"] for p in parts if "label" in p.columns), None)
    if labels is None:
        sys.exit("no file has a label column")
    scores = pd.concat([p.set_index("id")["score"].rename(i) for i, p in enumerate(parts)], axis=1, join="inner")
    if scores.empty or labels.loc[scores.index].nunique() < 2:
        sys.exit(f"the files share {len(scores)} ids with both labels among them: AUROC needs the same test rows, "
                 "both classes, in every file")
    y = labels.loc[scores.index].to_numpy()
    logits = logit(scores.to_numpy())
    for spec, col in zip(specs, logits.T):
        print(f"{roc_auc_score(y, col):.4f}  {spec}")
    print(f"{roc_auc_score(y, logits.mean(1)):.4f}  mean logit of the {len(specs)} ({len(y)} sequences)")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__) or 0)
    main(sys.argv[1:])
