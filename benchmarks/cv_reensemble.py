"""Re-score the ensemble of a finished `genomic-ulmfit cv` run under different member-weighting rules.

Usage: .venv/bin/python benchmarks/cv_reensemble.py DATASET CV_DIR MODEL[,MODEL...]
The folds are rebuilt with the cv run's own settings (folds, seed, near-k from CV_DIR/cv.json), so
every fold's test part is the one its models never saw. Loads each fold's saved runs, standardises the member logits on
the fold's validation part and scores the fold's test part with: equal weights; the default rule
(members within PRUNE_TOL valid AUROC of the best); greedy forward selection with replacement
(Caruana et al. 2004). Prints per-fold and mean ± sd AUROC.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from genomic_ulmfit.data.dataset import load_dataset
from genomic_ulmfit.data.split import assign_folds
from genomic_ulmfit.evaluation.cv import fold_frame
from genomic_ulmfit.models.base import load_model
from genomic_ulmfit.models.ensemble import PRUNE_TOL, logit, select_weights


def greedy_weights(z: np.ndarray, y: np.ndarray, rounds: int = 20) -> np.ndarray:
    """Caruana et al. 2004: start from the best member, add (with replacement) while AUROC rises."""
    single = [roc_auc_score(y, zi) for zi in z]
    w = np.zeros(len(z))
    w[int(np.argmax(single))] = 1
    best = max(single)
    for _ in range(rounds):
        trials = [roc_auc_score(y, (w + np.eye(len(z))[j]) @ z) for j in range(len(z))]
        j = int(np.argmax(trials))
        if trials[j] <= best:
            break
        w[j] += 1
        best = trials[j]
    return w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("cv_dir")
    ap.add_argument("models")
    a = ap.parse_args()
    models = a.models.split(",")
    info_path = Path(a.cv_dir) / "cv.json"
    if not info_path.is_file():
        raise SystemExit(f"{info_path}: not found; give the folder of a finished `genomic-ulmfit cv` run")
    info = json.loads(info_path.read_text())
    folds, seed, near_k = info["folds"], info["seed"], info["near_k"]
    oof = pd.read_csv(Path(a.cv_dir) / "oof_scores.tsv", sep="\t", usecols=["model", "fold", "id"])
    oof = oof[oof["model"] == oof["model"].iloc[0]]
    df = load_dataset(a.dataset)
    df = df[df["id"].isin(set(oof["id"]))]  # the rows the cv run used (a --species run used some only)
    base = assign_folds(df.drop(columns=["split", "fold"], errors="ignore"), k=folds, seed=seed, near_k=near_k)
    for k in range(folds):  # the very folds of the cv run, or no score from here would be out-of-fold
        if set(base.loc[base["fold"] == k, "id"]) != set(oof.loc[oof["fold"] == k, "id"]):
            raise SystemExit(f"{a.cv_dir}: fold {k + 1} rebuilt from {a.dataset} is not the cv run's (other data, "
                             "or a cv made by another version); cannot re-score it")
    rules = {"equal": [], f"within {PRUNE_TOL} (default)": [], "greedy": []}
    for k in range(folds):
        part = fold_frame(base, k, seed)
        valid, test = part[part["split"] == "valid"], part[part["split"] == "test"]
        runs = [load_model(f"{a.cv_dir}/runs/{m}/fold{k}") for m in models]
        zv = np.stack([logit(r.predict_proba(valid["sequence"].tolist())) for r in runs])
        zt = np.stack([logit(r.predict_proba(test["sequence"].tolist())) for r in runs])
        mu, sd = zv.mean(1, keepdims=True), np.maximum(zv.std(1, keepdims=True), 1e-6)
        zv, zt = (zv - mu) / sd, (zt - mu) / sd
        yv, yt = valid["label"].to_numpy(), test["label"].to_numpy()
        weights = {"equal": np.ones(len(runs)), f"within {PRUNE_TOL} (default)": np.array(select_weights(zv, yv)[0]),
                   "greedy": greedy_weights(zv, yv)}
        for rule, w in weights.items():
            rules[rule].append(roc_auc_score(yt, w @ zt))
        print(f"fold {k}: " + "  ".join(f"{r} {v[-1]:.4f} (w={weights[r].tolist()})" for r, v in rules.items()), flush=True)
    for rule, v in rules.items():
        print(f"{rule:>20s}: AUROC {np.mean(v):.4f} ± {np.std(v, ddof=1):.4f}")


if __name__ == "__main__":
    main()
