"""Gapped k-mer kernel settings compared by 5-fold CV on one data set (how gkm's defaults were chosen).

For each setting "l,k,half_life" (half_life 0: no centre weighting) the normalised kernel of all
sequences is computed once (`genomic_ulmfit.models.gkm.gkm_kernel`), then an SVC on it (linear, or
RBF with gamma 1 or 2; C 0.5, 1, 2; other grids with --gammas / --Cs) is scored by stratified
5-fold CV (seed 0) over all rows, whatever their split. Prints the kernel time and the three best
(gamma, C) by mean fold AUROC; with --all, every (gamma, C).

Usage: .venv/bin/python benchmarks/gkm_settings.py DATASET.parquet 8,5,0 10,6,0 8,5,50 ...
       .venv/bin/python benchmarks/gkm_settings.py DATASET.parquet 8,5,0 --gammas 0,1,2,4 --Cs 0.25,0.5,1,2,4,8,16,32 --all
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

from genomic_ulmfit.models.gkm import gkm_kernel, normalise, rbf


def main(dataset: str, settings: list[str], gammas: list[float], Cs: list[float], show_all: bool) -> None:
    df = pd.read_parquet(dataset)
    y, seqs = df["label"].to_numpy(), df["sequence"].tolist()
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(y, y))
    print(f"{dataset}: {len(y):,} sequences, stratified 5-fold CV (seed 0)")
    for setting in settings:
        l, k, half_life = setting.split(",")  # noqa: E741
        t = time.perf_counter()
        K, norm, _ = gkm_kernel(seqs, l=int(l), k=int(k), half_life=float(half_life) or None)
        Kn = normalise(K, norm, norm)
        seconds = time.perf_counter() - t
        results = []
        for gamma in gammas:
            Kg = rbf(Kn, gamma)
            for C in Cs:
                aucs = [roc_auc_score(y[va], SVC(kernel="precomputed", C=C).fit(Kg[np.ix_(tr, tr)], y[tr])
                                      .decision_function(Kg[np.ix_(va, tr)])) for tr, va in folds]
                results.append((float(np.mean(aucs)), gamma, C))
        if show_all:
            for m, g, c in results:
                print(f"  gamma {g:g} C {c:g}: {m:.4f}")
        results.sort(reverse=True)
        best = "  ".join(f"gamma {g:g} C {c:g}: {m:.4f}" for m, g, c in results[:3])
        print(f"l={l} k={k} half_life={float(half_life) or None}: kernel {seconds:.0f} s; best {best}", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("settings", nargs="+", help="l,k,half_life (half_life 0: none)")
    ap.add_argument("--gammas", default="0,1,2", help="comma list (0: the linear kernel)")
    ap.add_argument("--Cs", default="0.5,1,2", help="comma list")
    ap.add_argument("--all", action="store_true", help="print every (gamma, C), not only the best three")
    args = ap.parse_args()
    main(args.dataset, args.settings, [float(v) for v in args.gammas.split(",")], [float(v) for v in args.Cs.split(",")],
         args.all)
