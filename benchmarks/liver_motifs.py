"""Do Cohn human's liver enhancers carry liver transcription-factor motifs, beyond composition?

:func:`genomic_ulmfit.evaluation.motifs.motif_table` (the `genomic-ulmfit motifs` command) for the
eight JASPAR liver motifs on all 5,229 Cohn human sequences: hit rates in positives and
negatives, odds ratios raw and over GC-content deciles, and for each model of the Cohn 5-fold CV
(`WORK/cohn_cv_ulmfit/oof_scores.tsv`, when it exists) the odds ratio of a hit for an out-of-fold
score above the class median, within class × GC decile. Then, over the same folds (near-duplicates kept in one fold), the
AUROC of a logistic regression on GC content alone, on the eight motif counts alone, and on both:
what the motifs add to composition.

Usage: .venv/bin/python benchmarks/liver_motifs.py [WORK_DIR] [CV_DIR]
(WORK_DIR as for real_data.sh, after its `import` step; default ~/.cache/genomic-ulmfit/results;
CV_DIR: a `genomic-ulmfit cv` run on WORK_DIR/cohn_human.parquet with --folds 5 --near-k 31 whose
out-of-fold scores are used, default WORK_DIR/cohn_cv_ulmfit)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from genomic_ulmfit.data.dataset import load_dataset
from genomic_ulmfit.data.motifs import MOTIF_NAMES, MOTIFS
from genomic_ulmfit.data.split import assign_folds
from genomic_ulmfit.evaluation.motifs import hit_counts, motif_table, strand_background


def cv_auroc(x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> float:
    """Pooled out-of-fold AUROC of a logistic regression on the columns of ``x``."""
    scores = np.empty(len(y))
    for k in np.unique(folds):
        test = folds == k
        scale = StandardScaler().fit(x[~test])
        clf = LogisticRegression(max_iter=1000).fit(scale.transform(x[~test]), y[~test])
        scores[test] = clf.decision_function(scale.transform(x[test]))
    return roc_auc_score(y, scores)


def main(work: Path, cv_dir: Path | None = None) -> None:
    cohn = load_dataset(work / "cohn_human.parquet")
    df = assign_folds(cohn.drop(columns=["split", "fold"], errors="ignore"), k=5, seed=0, near_k=31)
    seqs, y = df["sequence"].str.upper().tolist(), df["label"].to_numpy()
    table = motif_table(seqs, y)
    oof_path = (cv_dir or work / "cohn_cv_ulmfit") / "oof_scores.tsv"
    if oof_path.is_file():
        oof = pd.read_csv(oof_path, sep="\t")
        for model, g in oof.groupby("model", sort=False):
            scores = g.set_index("id")["score"].reindex(df["id"]).to_numpy()
            by_score = motif_table(seqs, y, scores)
            table[f"{model}_score_or"] = by_score["score_or"]
            table[f"{model}_score_p"] = by_score["score_p"]
    print(table.to_string(index=False))
    bg = strand_background([s for s, lab in zip(seqs, y) if lab == 0])
    hits = np.stack([hit_counts(seqs, MOTIFS[m], background=bg) for m in MOTIF_NAMES], axis=1)
    gc = np.array([(s.count("G") + s.count("C")) / len(s) for s in seqs])[:, None]
    folds = df["fold"].to_numpy()
    print(f"5-fold CV AUROC, logistic regression on: GC {cv_auroc(gc, y, folds):.4f} | "
          f"8 motif counts {cv_auroc(hits.astype(float), y, folds):.4f} | "
          f"GC + motif counts {cv_auroc(np.hstack([gc, hits]), y, folds):.4f}")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__) or 0)
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.home() / ".cache/genomic-ulmfit/results",
         Path(sys.argv[2]) if len(sys.argv) > 2 else None)
