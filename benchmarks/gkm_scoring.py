"""gkm-SVM scoring speed and accuracy: the default grid (RBF allowed) against ``gkm:linear``.

Fits both on a dataset's train split (the valid split calibrates them), then, side by side in one
process, scores its test split (AUROC) and times scoring ``--n`` sequences of the test length cut
from the test sequences' own bases (scans score many windows of one length), in alternating
rounds; prints the median sequences per second of each.

Usage: .venv/bin/python benchmarks/gkm_scoring.py DATASET.parquet [--n 4000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from genomic_ulmfit.evaluation.metrics import auroc
from genomic_ulmfit.models.estimators import model_from_name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    df = pd.read_parquet(args.dataset)
    tr, va, te = (df[df["split"] == s] for s in ("train", "valid", "test"))
    models = {}
    for name in ("gkm", "gkm:linear"):
        t = time.perf_counter()
        m = model_from_name(name).fit(tr["sequence"].tolist(), tr["label"].to_numpy(), va["sequence"].tolist(),
                                      va["label"].to_numpy(), progress=False)
        models[name] = m
        test_auc = auroc(te["label"].to_numpy(), m.predict_proba(te["sequence"].tolist()))
        print(f"{name}: fit {time.perf_counter() - t:.0f} s on {len(tr):,}; C {m.C_:g}, gamma {m.gamma_:g}, "
              f"{m.n_support_:,} support sequences; test AUROC {test_auc:.4f}", flush=True)
    # windows of the test length from the test bases, shifted so that none repeats a test sequence
    joined = "".join(te["sequence"].tolist())
    width = int(te["sequence"].str.len().median())
    starts = np.random.default_rng(0).integers(0, len(joined) - width, args.n)
    windows = [joined[s : s + width] for s in starts]
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, m in models.items():
            t = time.perf_counter()
            m.predict_proba(windows)
            times[name].append(time.perf_counter() - t)
    rate = {name: args.n / statistics.median(ts) for name, ts in times.items()}
    for name, r in rate.items():
        print(f"{name}: {r:,.0f} windows/s ({width} bp, {args.n:,} windows, median of {args.rounds} rounds)")
    print(f"linear / default: {rate['gkm:linear'] / rate['gkm']:.1f}x")


if __name__ == "__main__":
    main()
