"""Do the other shared human enhancer sets help on Cohn human? (the only extra labelled data here)

Cohn human has 4.2k training sequences and every model still gains ~0.01 AUROC per doubling of
them (learning curve). The other shared human sets (NHLF, VISTA, iEnhancer) are other tissues and
protocols, but they are labelled enhancer-vs-background data. With the k-mer LR (seconds per fit),
on the seeded Cohn split, scored on the Cohn *valid* part only (the test part stays untouched):

1. a model trained on each other set alone, scored on Cohn valid (how much signal transfers);
2. the Cohn model's standardised logit plus w × the other set's (w = 0.1, 0.25, 0.5);
3. one model trained on Cohn train + the other set pooled.

Usage: .venv/bin/python benchmarks/other_sets.py [WORK_DIR]
(WORK_DIR as for real_data.sh, after its `import` step; default ~/.cache/genomic-ulmfit/results)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from genomic_ulmfit.data.dataset import load_dataset
from genomic_ulmfit.models.kmer import KmerLogistic

OTHER_SETS = ("nhlf", "vista", "ienhancer")
WEIGHTS = (0.1, 0.25, 0.5)


def standard_logit(p: np.ndarray) -> np.ndarray:
    """Logit of P(enhancer), centred and scaled to unit variance."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    z = np.log(p / (1 - p))
    return (z - z.mean()) / z.std()


def fit_kmer(sequences: pd.Series, labels: pd.Series) -> KmerLogistic:
    return KmerLogistic().fit(sequences.tolist(), labels.to_numpy())


def main(work: Path) -> None:
    cohn = load_dataset(work / "cohn_human.parquet")
    train, valid = cohn[cohn.split == "train"], cohn[cohn.split == "valid"]
    y = valid.label.to_numpy()
    z_cohn = standard_logit(fit_kmer(train.sequence, train.label).predict_proba(valid.sequence.tolist()))
    print(f"Cohn train only ({len(train)} seqs) -> Cohn valid ({len(valid)}): AUROC {roc_auc_score(y, z_cohn):.4f}")
    for name in OTHER_SETS:
        other = load_dataset(work / f"{name}.parquet")
        z_other = standard_logit(fit_kmer(other.sequence, other.label).predict_proba(valid.sequence.tolist()))
        pooled = fit_kmer(pd.concat([train.sequence, other.sequence]), pd.concat([train.label, other.label]))
        blends = "  ".join(f"w={w}: {roc_auc_score(y, z_cohn + w * z_other):.4f}" for w in WEIGHTS)
        print(
            f"{name:10s} ({len(other)} seqs) alone {roc_auc_score(y, z_other):.4f} | blend {blends} | "
            f"pooled {roc_auc_score(y, pooled.predict_proba(valid.sequence.tolist())):.4f}"
        )


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__) or 0)
    if len(sys.argv) > 2:
        sys.exit(__doc__.split("Usage: ")[1].strip())
    main(Path(sys.argv[1]) if len(sys.argv) == 2 else Path.home() / ".cache/genomic-ulmfit/results")
