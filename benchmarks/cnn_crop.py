"""Does random-crop augmentation help the modern CNN on Cohn human?

Each training example loses a random number c ∈ [0, MAX] of bases, split at random between its two
ends, at every epoch (prediction sees the whole sequence). The modern CNN pools over the valid
length and reads the k-mer composition of what it is given, so a crop changes both the positions
of the motifs and, slightly, the composition: the usual shift augmentation of genomic CNNs,
without wrapping or inventing bases.

Protocol: the 5-fold CV folds of `real_data.sh WORK cohn_cv` (near-duplicates kept in one fold),
the modern CNN at the `cpu` preset, seed 0; ``--max 0`` reproduces the CV's `cnn-modern` row.

Usage: .venv/bin/python benchmarks/cnn_crop.py [WORK_DIR] [--max 0,50,100] [--folds 0,1,2,3,4]
(WORK_DIR as for real_data.sh, after its `import` step; default ~/.cache/genomic-ulmfit/results)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from genomic_ulmfit.data.dataset import load_dataset
from genomic_ulmfit.data.split import assign_folds
from genomic_ulmfit.models.estimators import CNNModel, _one_hot_batch


def random_crop(codes: np.ndarray, max_crop: int, rng) -> np.ndarray:
    """Base codes (B, L), right-padded with 0 → each row with ``c ~ U{0..max_crop}`` bases cut,
    ``a ~ U{0..c}`` of them from its start and the rest from its end, left-aligned, 0-padded.
    Rows keep at least one base."""
    n = (codes > 0).sum(axis=1)
    c = np.minimum(rng.integers(0, max_crop + 1, size=len(codes)), n - 1)
    a = (rng.random(len(codes)) * (c + 1)).astype(np.int64)
    cols = np.arange(codes.shape[1])
    src = np.minimum(cols[None, :] + a[:, None], codes.shape[1] - 1)
    out = np.take_along_axis(codes, src, axis=1)
    out[cols[None, :] >= (n - c)[:, None]] = 0
    return out


class CroppedCNN(CNNModel):
    """:class:`CNNModel` whose training batches are randomly cropped first."""

    def __init__(self, max_crop: int, **kw):
        super().__init__(**kw)
        self.max_crop = max_crop

    def prepare(self, *args, **kw):
        prep = super().prepare(*args, **kw)
        aug, m = prep["schedule"]["rc_augment"], self.max_crop
        if m:
            prep["train_data"].transform = lambda xb, rng: _one_hot_batch(random_crop(xb, m, rng), rng,
                                                                          rc_augment=aug)
        return prep


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", nargs="?", default=str(Path.home() / ".cache/genomic-ulmfit/results"))
    ap.add_argument("--max", default="0,50,100", help="largest crop per training example, bases")
    ap.add_argument("--folds", default="0,1,2,3,4")
    a = ap.parse_args()
    cohn = load_dataset(Path(a.work) / "cohn_human.parquet")
    df = assign_folds(cohn.drop(columns=["split", "fold"], errors="ignore"), k=5, seed=0, near_k=31)
    y_all = df["label"].to_numpy()
    folds = [int(x) for x in a.folds.split(",")]
    rows = []
    for m in (int(x) for x in a.max.split(",")):
        for k in folds:
            test = (df["fold"] == k).to_numpy()
            tr = df[~test]
            t0 = time.time()
            model = CroppedCNN(m, arch="modern", preset="cpu", seed=0)
            model.fit(tr["sequence"].tolist(), tr["label"].to_numpy(), progress=False)
            p = model.predict_proba(df.loc[test, "sequence"].tolist())
            rows.append({"max_crop": m, "fold": k, "auroc": roc_auc_score(y_all[test], p),
                         "seconds": round(time.time() - t0)})
            print(pd.DataFrame(rows).round(4).to_string(index=False), flush=True)
    res = pd.DataFrame(rows)
    print(res.groupby("max_crop")["auroc"].agg(["mean", "std", "count"]).round(4).to_string(), flush=True)


if __name__ == "__main__":
    main()
