"""What composition models can do on a data set: 5-fold CV of k-mer spectra with logistic
regression and an RBF SVM over k_max and C (the folds of `genomic-ulmfit cv`: same seed, near-k).

Usage: .venv/bin/python benchmarks/kmer_variants.py DATASET.parquet [--folds 5] [--seed 0] [--near-k 31]
    [--centre W] [--no-svm]
`--centre W` adds the k = 1..4 spectra of the central W bp and of the flanks as separate features
(does position within a peak-centred window matter beyond composition?). Prints mean accuracy and AUROC over folds for every setting. Note that picking the best row here
selects on the test folds: it is a ceiling for this model family, not an unbiased estimate.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from genomic_ulmfit.data.dataset import load_dataset
from genomic_ulmfit.data.split import assign_folds
from genomic_ulmfit.models.kmer import kmer_features


def centre_flank_features(seqs: list[str], width: int, k_max: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """k = 1..k_max spectra of each sequence's central ``width`` bp and of its two flanks (N-joined)."""
    starts = [max(0, (len(s) - width) // 2) for s in seqs]
    centre = [s[a : a + width] for s, a in zip(seqs, starts, strict=True)]
    flanks = [s[:a] + "N" + s[a + width :] for s, a in zip(seqs, starts, strict=True)]
    return kmer_features(centre, 1, k_max), kmer_features(flanks, 1, k_max)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--near-k", type=int, default=31)
    ap.add_argument("--centre", type=int, default=0, help="also the spectra of the central W bp and the flanks")
    ap.add_argument("--no-svm", action="store_true", help="logistic regression only")
    a = ap.parse_args()
    df = assign_folds(load_dataset(a.dataset).drop(columns=["split", "fold"], errors="ignore"), a.folds, a.seed, near_k=a.near_k)
    seqs, y, fold = df["sequence"].tolist(), df["label"].to_numpy(), df["fold"].to_numpy()

    def cv(make, X):
        acc, auc = [], []
        for f in range(a.folds):
            tr, te = fold != f, fold == f
            sc = StandardScaler().fit(X[tr])
            score = make().fit(sc.transform(X[tr]), y[tr]).decision_function(sc.transform(X[te]))
            acc.append(accuracy_score(y[te], score > 0))
            auc.append(roc_auc_score(y[te], score))
        return np.mean(acc), np.mean(auc)

    print(f"{'model':24s} {'accuracy':>8s} {'AUROC':>7s}")
    for k_max in (3, 4, 5, 6):
        X = kmer_features(seqs, 1, k_max)
        if a.centre:
            X = np.hstack([X, *centre_flank_features(seqs, a.centre)])
        for C in (1e-3, 1e-2, 1e-1):
            t = time.time()
            acc, auc = cv(lambda C=C: LogisticRegression(C=C, max_iter=2000), X)
            print(f"{f'LR k1-{k_max} C={C:g}':24s} {acc:8.4f} {auc:7.4f}  ({time.time() - t:.0f} s)", flush=True)
        for C in () if a.no_svm else (0.3, 1.0, 3.0):
            t = time.time()
            acc, auc = cv(lambda C=C: SVC(C=C, gamma="scale"), X)
            print(f"{f'SVM-RBF k1-{k_max} C={C:g}':24s} {acc:8.4f} {auc:7.4f}  ({time.time() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
