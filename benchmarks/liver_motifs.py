"""Do Cohn human's liver enhancers carry liver transcription-factor motifs, beyond composition?

For each JASPAR liver motif of :mod:`genomic_ulmfit.data.motifs` (HNF4A, CEBPA, FOXA2, HNF1A,
ONECUT1, NR2F2, PPARA::RXRA, TEAD1) the share of positives and negatives with at least one hit
(relative score >= 0.85, either strand, log-odds against the negatives' base composition so GC
alone does not make hits), the odds ratio, Fisher's exact p, and the Mantel-Haenszel odds ratio
over GC-content deciles (positives are GC-richer, which by itself makes AT-rich motifs rarer in
them). Then, over the `cohn_cv` folds (5-fold CV, near-duplicates kept in one fold), the AUROC of
a logistic regression on GC content alone, on the eight motif counts alone, and on both: what the
motifs add to composition. Last, when `WORK/cohn_cv_ulmfit/oof_scores.tsv` exists, whether each
CV model's out-of-fold score follows the motifs beyond GC: the GC-decile Mantel-Haenszel odds
ratio of "a hit" against "score in the model's top half".

Usage: .venv/bin/python benchmarks/liver_motifs.py [WORK_DIR]
(WORK_DIR as for real_data.sh, after its `import` step; default ~/.cache/genomic-ulmfit/results)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from genomic_ulmfit.data.dataset import load_dataset
from genomic_ulmfit.data.motifs import MOTIF_NAMES, MOTIFS, count_hits, dna_codes
from genomic_ulmfit.data.split import assign_folds


def mh_odds(has: np.ndarray, outcome: np.ndarray, strata: np.ndarray) -> float:
    """Mantel-Haenszel odds ratio of ``outcome`` (bool) for ``has`` (bool) over ``strata``."""
    num = den = 0.0
    for s in np.unique(strata):
        m = strata == s
        a = np.sum(has[m] & outcome[m])
        b = np.sum(~has[m] & outcome[m])
        c = np.sum(has[m] & ~outcome[m])
        d = np.sum(~has[m] & ~outcome[m])
        num += a * d / m.sum()
        den += b * c / m.sum()
    return num / den if den else float("nan")


def cv_auroc(x: np.ndarray, y: np.ndarray, folds: np.ndarray) -> float:
    """Pooled out-of-fold AUROC of a logistic regression on the columns of ``x``."""
    scores = np.empty(len(y))
    for k in np.unique(folds):
        test = folds == k
        scale = StandardScaler().fit(x[~test])
        clf = LogisticRegression(max_iter=1000).fit(scale.transform(x[~test]), y[~test])
        scores[test] = clf.decision_function(scale.transform(x[test]))
    return roc_auc_score(y, scores)


def main(work: Path) -> None:
    cohn = load_dataset(work / "cohn_human.parquet")
    df = assign_folds(cohn.drop(columns=["split", "fold"], errors="ignore"), k=5, seed=0, near_k=31)
    y = df["label"].to_numpy()
    codes = dna_codes(df["sequence"].str.upper().tolist())
    neg = codes[y == 0]
    background = [float((neg == b).mean()) for b in range(4)]
    background = [b / sum(background) for b in background]
    print("background (negatives) A C G T:", " ".join(f"{b:.3f}" for b in background))
    hits = np.stack([count_hits(codes, MOTIFS[m], background=background) for m in MOTIF_NAMES], axis=1)
    seqs = df["sequence"].str.upper()
    gc = ((seqs.str.count("G") + seqs.str.count("C")) / seqs.str.len()).to_numpy()
    deciles = np.searchsorted(np.quantile(gc, np.linspace(0.1, 0.9, 9)), gc)
    rows = []
    for j, name in enumerate(MOTIF_NAMES):
        has = hits[:, j] > 0
        table = [[int((has & (y == 1)).sum()), int((~has & (y == 1)).sum())],
                 [int((has & (y == 0)).sum()), int((~has & (y == 0)).sum())]]
        odds, p = fisher_exact(table)
        rows.append({"motif": name, "jaspar": MOTIFS[name].jaspar_id, "pos_with_hit": has[y == 1].mean(),
                     "neg_with_hit": has[y == 0].mean(), "odds_ratio": odds, "fisher_p": p,
                     "gc_adjusted_or": mh_odds(has, y == 1, deciles), "auroc_hits": roc_auc_score(y, hits[:, j])})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    gc = gc[:, None]
    folds = df["fold"].to_numpy()
    print(f"5-fold CV AUROC, logistic regression on: GC {cv_auroc(gc, y, folds):.4f} | "
          f"8 motif counts {cv_auroc(hits.astype(float), y, folds):.4f} | "
          f"GC + motif counts {cv_auroc(np.hstack([gc, hits]), y, folds):.4f}")
    oof_path = work / "cohn_cv_ulmfit" / "oof_scores.tsv"
    if oof_path.is_file():
        oof = pd.read_csv(oof_path, sep="\t")
        row_of = pd.Series(np.arange(len(df)), index=df["id"].to_numpy())
        out = {}
        for model, g in oof.groupby("model", sort=False):
            r = row_of.loc[g["id"]].to_numpy()
            top = (g["score"] >= g["score"].median()).to_numpy()
            out[model] = [mh_odds(hits[r, j] > 0, top, deciles[r]) for j in range(len(MOTIF_NAMES))]
        print("GC-adjusted odds ratio of a motif hit for a top-half out-of-fold score:")
        print(pd.DataFrame(out, index=list(MOTIF_NAMES)).round(2).to_string())


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__) or 0)
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.home() / ".cache/genomic-ulmfit/results")
