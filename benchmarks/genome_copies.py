"""How much repeat content (genome copy numbers of 20-mers, `kmer:copies`) separates each data set.

Usage: .venv/bin/python benchmarks/genome_copies.py WORK [CV_DIR]
Reads WORK/{cohn_human,ienhancer,nhlf,vista}.parquet (real_data.sh's import step) and the human
genome files of ../shared/data/genomes (or $GENOMIC_ULMFIT_DATA/genomes), indexed once and cached.
Prints per data set the mean share of 20-mers with at least 2 copies in positives and negatives and
that share's AUROC alone (fewer copies = enhancer), and how many sequences lie on the indexed genome
itself (at least 98% of their 20-mers found). With CV_DIR (a `cv` run with kmer and kmer:copies, e.g.
WORK/cohn_cv_copies) it also gives both models' mean fold AUROC with the sequences that lie on the
indexed genome left out of scoring: the gain must not come from a sequence finding its own locus.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from genomic_ulmfit.data.copies import GenomeCopies, class_shares

ROOT = Path(__file__).resolve().parents[1]
GENOMES = Path(os.environ.get("GENOMIC_ULMFIT_DATA", ROOT.parent / "shared" / "data")) / "genomes"
FILES = [GENOMES / "human_GRCh37_chrX.fa.gz", GENOMES / "human_chr22_epo_blocks.fa.gz"]


def on_genome(index: GenomeCopies, sequences: list[str]) -> np.ndarray:
    """True for sequences with at least 98% of their 20-mers in the indexed genome."""
    return np.array([(c >= 1).mean() >= 0.98 if (c := index.counts_of(s)).size else False for s in sequences])


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    work = Path(sys.argv[1])
    index = GenomeCopies.cached(FILES, 20)
    on: dict[str, bool] = {}
    for name in ("cohn_human", "ienhancer", "nhlf", "vista"):
        df = pd.read_parquet(work / f"{name}.parquet")
        y = df["label"].to_numpy()
        s = class_shares(df["sequence"].tolist(), y, index)
        here = on_genome(index, df["sequence"].tolist())
        on.update(zip(df["id"], here, strict=True))
        print(f"{name:11s} share of 20-mers with >= 2 copies: positives {s['share_label_1']:.3f}, negatives "
              f"{s['share_label_0']:.3f}; AUROC of the share alone {s['auroc_fewer_copies_positive']:.3f}; on the "
              f"indexed genome: {int(here[y == 1].sum())} positives, {int(here[y == 0].sum())} negatives")
    if len(sys.argv) == 3:
        oof = pd.read_csv(Path(sys.argv[2]) / "oof_scores.tsv", sep="\t")
        for model in ("kmer", "kmer-copies"):
            part = oof[oof["model"] == model]
            keep = ~part["id"].map(on).fillna(False).to_numpy(bool)
            folds = [(part["fold"] == k).to_numpy() for k in sorted(part["fold"].unique())]
            every = np.mean([roc_auc_score(part["label"][f], part["score"][f]) for f in folds])
            off = np.mean([roc_auc_score(part["label"][f & keep], part["score"][f & keep]) for f in folds])
            print(f"{model:12s} mean fold AUROC {every:.4f}; without the sequences on the indexed genome {off:.4f}")


if __name__ == "__main__":
    main()
