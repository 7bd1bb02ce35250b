"""Is the CNN held back by its seed? The modern CNN averaged over S seeds, alone and in the ensemble.

The modern CNN's AUROC moves by ~0.01 from one training split or seed to the next on a Cohn fold
(sixteenth session). If part of that is seed noise, the
mean logit of S seeds is a better CNN, and the k-mer + gkm + CNN ensemble a better ensemble,
at S times the CNN's cost (~1.5 min per fit on Cohn, two threads).

Protocol: the folds of `real_data.sh WORK cohn_cv` (5 folds, near-duplicates sharing a 31-mer kept
in one fold, seed 0) and each fold's validation part as in `genomic-ulmfit cv` (10% of the training
folds); k-mer LR and gkm-SVM at their defaults, the modern CNN at the `cpu` preset with seeds
0..S-1 (seed 0 is the CV's `cnn-modern` row). Ensembles are `EnsembleModel`s calibrated on the
validation part, as the tool makes them. Reports mean fold AUROC and accuracy, and a paired DeLong
test on the pooled out-of-fold scores. ``--split`` instead uses the dataset's own seeded
train/valid/test split (`genomic-ulmfit data split`) as the one "fold".

Usage: .venv/bin/python benchmarks/cnn_seeds.py [DATASET] [--seeds 5] [--folds 0,1,2,3,4 | --split] [--out TSV]
(DATASET default ~/.cache/genomic-ulmfit/results/cohn_human.parquet, from real_data.sh's `import`)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genomic_ulmfit.data.dataset import load_dataset
from genomic_ulmfit.data.split import assign_folds
from genomic_ulmfit.evaluation.cv import fold_frame
from genomic_ulmfit.evaluation.metrics import auroc, delong_test
from genomic_ulmfit.models.ensemble import EnsembleModel, logit
from genomic_ulmfit.models.estimators import model_from_name


def seed_mean(scores: list[np.ndarray]) -> np.ndarray:
    """Probability of the mean logit of several models' probabilities for the same sequences."""
    return 1.0 / (1.0 + np.exp(-np.mean([logit(s) for s in scores], axis=0)))


def fit_scores(name: str, seed: int, tr: pd.DataFrame, va: pd.DataFrame, te: pd.DataFrame
               ) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit model ``name`` on ``tr`` (``va`` for early stopping / calibration); return its scores of
    ``va`` and ``te`` and the fit's seconds."""
    t0 = time.time()
    model = model_from_name(name, seed=seed)
    model.fit(tr["sequence"].tolist(), tr["label"].to_numpy(), va["sequence"].tolist(), va["label"].to_numpy(),
              progress=False)
    return (model.predict_proba(va["sequence"].tolist()), model.predict_proba(te["sequence"].tolist()),
            time.time() - t0)


def ensemble(valid: dict[str, np.ndarray], test: dict[str, np.ndarray], y_valid: np.ndarray) -> np.ndarray:
    """The tool's ensemble of the members in ``valid``/``test`` (same keys), calibrated on the valid scores."""
    names = list(valid)
    ens = EnsembleModel.from_scores(names, np.stack([valid[n] for n in names]), y_valid)
    return ens.combine(np.stack([test[n] for n in names]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", nargs="?", default=str(Path.home() / ".cache/genomic-ulmfit/results/cohn_human.parquet"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--folds", default="0,1,2,3,4")
    ap.add_argument("--split", action="store_true", help="the dataset's own train/valid/test split, not CV folds")
    ap.add_argument("--out", help="write the pooled out-of-fold scores here (TSV)")
    a = ap.parse_args()
    data = load_dataset(a.dataset)
    if a.split:
        parts = [("split", data)]
    else:
        base = assign_folds(data.drop(columns=["split", "fold"], errors="ignore"), k=5, seed=0, near_k=31)
        parts = [(int(k) + 1, fold_frame(base, int(k), 0)) for k in a.folds.split(",")]
    rows, oof = [], []
    cnns = [f"cnn{s}" for s in range(a.seeds)]
    for k, part in parts:
        tr, va, te = (part[part["split"] == s] for s in ("train", "valid", "test"))
        y_va, y_te = va["label"].to_numpy(), te["label"].to_numpy()
        valid, test = {}, {}
        for key, name, seed in [("kmer", "kmer", 0), ("gkm", "gkm", 0)] + [(c, "cnn:modern", s) for s, c in enumerate(cnns)]:
            valid[key], test[key], secs = fit_scores(name, seed, tr, va, te)
            print(f"fold {k} {key}: AUROC {auroc(y_te, test[key]):.4f} ({secs:.0f} s)", flush=True)
        valid["cnn_avg"], test["cnn_avg"] = seed_mean([valid[c] for c in cnns]), seed_mean([test[c] for c in cnns])
        members = {"ens3": ["kmer", "gkm", "cnn0"], "ens3_avg": ["kmer", "gkm", "cnn_avg"]}
        for e, ms in members.items():
            test[e] = ensemble({m: valid[m] for m in ms}, {m: test[m] for m in ms}, y_va)
        ids = te["id"].to_numpy()
        for key, s in test.items():
            rows.append({"fold": k, "model": key, "auroc": auroc(y_te, s),
                         "accuracy": float(((s >= 0.5) == y_te).mean())})
            oof.append(pd.DataFrame({"id": ids, "model": key, "score": s, "label": y_te}))
    res = pd.DataFrame(rows)
    res["model"] = res["model"].where(~res["model"].str.fullmatch(r"cnn[1-9]\d*"), "cnn (seeds 1..S-1)")
    print(res.groupby("model", sort=False)[["auroc", "accuracy"]].agg(["mean", "std"]).round(4).to_string())
    oof = pd.concat(oof)
    pooled = oof.pivot_table(index="id", columns="model", values="score")
    y = oof.groupby("id")["label"].first().loc[pooled.index].to_numpy()
    for a_, b_ in [("cnn_avg", "cnn0"), ("ens3_avg", "ens3"), ("ens3_avg", "gkm")]:
        auc_a, auc_b, _, p = delong_test(y, pooled[a_].to_numpy(), pooled[b_].to_numpy())
        print(f"pooled out-of-fold {a_} {auc_a:.4f} vs {b_} {auc_b:.4f}: paired DeLong p = {p:.2g}")
    if a.out:
        oof.to_csv(a.out, sep="\t", index=False)


if __name__ == "__main__":
    main()
