"""Do random human-genome windows help as extra negatives on Cohn human?

Cohn's negatives look like random genomic 500-bp windows (GC 0.394 ± 0.074 against 0.405 for
random N-free chrX windows; positives 0.467), and a liver enhancer covers a few percent of the
genome at most, so N-free windows of the shared human chrX are nearly all true negatives (a
positive-unlabelled view). The learning curve says more training data is the lever; this script
measures whether more negatives alone help. Windows sharing at least ``--max-shared`` 31-mers
(either strand) with the Cohn sequences are dropped, so no Cohn locus (a test sequence, say) comes
back as a training negative; dropping windows that share *any* 31-mer would also drop a third of
them, mostly repeat-rich ones, and bias the extra negatives against repeats.

Protocol: the 5-fold CV folds of `real_data.sh WORK cohn_cv` (near-duplicates kept in one fold);
for every fold the model trains on the other four folds plus M genome windows and scores the
fold's Cohn sequences only. Models: the k-mer LR (seconds per fit) and, with ``--cnn``, the
modern CNN.

Usage: .venv/bin/python benchmarks/genome_negatives.py [WORK_DIR] [--extra 2600,5200,10400] [--cnn]
       [--max-shared 100]
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
from genomic_ulmfit.data.readers import read_fasta
from genomic_ulmfit.data.sequences import revcomp
from genomic_ulmfit.data.split import assign_folds

ROOT = Path(__file__).resolve().parents[1]
CHRX = ROOT.parent / "shared" / "data" / "genomes" / "human_GRCh37_chrX.fa.gz"
K = 31


def kmer_set(sequences: list[str], k: int = K) -> set[str]:
    """Every k-mer of the sequences and of their reverse complements."""
    out: set[str] = set()
    for s in sequences:
        for t in (s, revcomp(s)):
            out.update(t[i : i + k] for i in range(len(t) - k + 1))
    return out


def genome_windows(n: int, width: int, avoid: set[str], max_shared: int, seed: int = 0) -> list[str]:
    """``n`` random N-free windows of chrX sharing fewer than ``max_shared`` ``K``-mers with ``avoid``."""
    seq = next(iter(read_fasta(CHRX))).sequence.upper()
    rng = np.random.default_rng(seed)
    out, dropped = [], 0
    while len(out) < n:
        s = int(rng.integers(0, len(seq) - width))
        w = seq[s : s + width]
        if "N" in w:
            continue
        if sum(w[i : i + K] in avoid for i in range(0, width - K + 1)) >= max_shared:
            dropped += 1
            continue
        out.append(w)
    print(f"{n} chrX windows ({dropped} dropped for sharing >= {max_shared} {K}-mers with Cohn)", flush=True)
    return out


def fit_score(kind: str, train_s: list[str], train_y: np.ndarray, test_s: list[str], seed: int) -> np.ndarray:
    if kind == "kmer":
        from genomic_ulmfit.models.kmer import KmerLogistic

        return KmerLogistic(random_state=seed).fit(train_s, train_y).predict_proba(test_s)
    from genomic_ulmfit.models.estimators import CNNModel

    return CNNModel("modern", preset="cpu", seed=seed).fit(train_s, train_y, progress=False).predict_proba(test_s)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", nargs="?", default=str(Path.home() / ".cache/genomic-ulmfit/results"))
    ap.add_argument("--extra", default="2600,5200,10400")
    ap.add_argument("--cnn", action="store_true")
    ap.add_argument("--max-shared", type=int, default=100, help="drop windows sharing this many 31-mers with Cohn")
    a = ap.parse_args()
    cohn = load_dataset(Path(a.work) / "cohn_human.parquet")
    df = assign_folds(cohn.drop(columns=["split", "fold"], errors="ignore"), k=5, seed=0, near_k=31)
    extras = [int(x) for x in a.extra.split(",")]
    t0 = time.time()
    pool = genome_windows(max(extras), 500, kmer_set(df["sequence"].str.upper().tolist()), a.max_shared)
    print(f"   ({time.time() - t0:.0f} s)", flush=True)
    rows = []
    for kind in ["kmer"] + (["cnn"] if a.cnn else []):
        for m in [0, *extras]:
            scores = np.empty(len(df))
            t0 = time.time()
            for k in range(5):
                test = (df["fold"] == k).to_numpy()
                tr = df[~test]
                seqs = tr["sequence"].tolist() + pool[:m]
                y = np.concatenate([tr["label"].to_numpy(), np.zeros(m, dtype=np.int64)])
                scores[test] = fit_score(kind, seqs, y, df.loc[test, "sequence"].tolist(), seed=0)
            y_all = df["label"].to_numpy()
            per_fold = [roc_auc_score(y_all[df["fold"] == k], scores[df["fold"] == k]) for k in range(5)]
            rows.append({"model": kind, "extra_negatives": m, "auroc_mean": np.mean(per_fold),
                         "auroc_sd": np.std(per_fold, ddof=1), "oof_auroc": roc_auc_score(y_all, scores),
                         "seconds": round(time.time() - t0)})
            print(pd.DataFrame(rows).round(4).to_string(index=False), flush=True)


if __name__ == "__main__":
    main()
