"""Motif interpretation: which transcription-factor motifs separate the classes, and a model's scores.

For each motif (the JASPAR liver factors of :mod:`genomic_ulmfit.data.motifs`, or any JASPAR
file read with :func:`read_jaspar`) :func:`motif_table` counts hits on both strands (relative
score >= ``threshold``, log-odds against the negatives' base composition, so that GC content alone
does not make hits) and reports, per motif:

* the share of positives and of negatives with at least one hit, their odds ratio and Fisher's
  exact p;
* the Mantel-Haenszel odds ratio over GC-content deciles: enhancers are often GC-richer than their
  background, which by itself makes AT-rich sites rarer in them;
* given a model's scores, the GC-adjusted odds ratio of a hit for a score in the top half: whether
  the model's ranking follows the motif beyond what GC content explains.

On Cohn human this finds HNF4A, HNF1A, FOXA2 and the PPAR/RXR DR1 enriched in liver enhancers once
GC is accounted for, and every model following HNF4A and FOXA2 (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from genomic_ulmfit.data.motifs import MOTIFS, Motif, count_hits, dna_codes
from genomic_ulmfit.errors import InputError

ROWS = "ACGT"


def read_jaspar(path: str | os.PathLike) -> dict[str, Motif]:
    """Motifs of a JASPAR-format file (``>ID NAME`` then rows ``A [ counts ]`` … ``T [ … ]``).

    The brackets and the base letters are optional (JASPAR's ``.pfm`` flavour has four bare rows).
    Returns {name: Motif} in file order; a bad line is a one-line InputError naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: motif file not found")
    motifs: dict[str, Motif] = {}
    header, rows, header_line = None, [], 0

    def finish() -> None:
        if header is None:
            return
        if len(rows) != 4 or len({len(r) for r in rows}) != 1 or not rows[0]:
            raise InputError(f"{path}: line {header_line}: motif {header[1]!r} needs four rows (A, C, G, T) of "
                             "equal length")
        motifs[header[1]] = Motif(header[1], header[0], tuple(tuple(r) for r in rows))

    for i, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        if text.startswith(">"):
            finish()
            parts = text[1:].split()
            if not parts:
                raise InputError(f"{path}: line {i}: empty motif header; write '>ID NAME'")
            header, rows, header_line = (parts[0], parts[1] if len(parts) > 1 else parts[0]), [], i
            continue
        if header is None:
            raise InputError(f"{path}: line {i}: counts before any '>ID NAME' header")
        fields = text.replace("[", " ").replace("]", " ").split()
        if fields and fields[0].upper() in ROWS:
            if fields[0].upper() != ROWS[len(rows) % 4]:
                raise InputError(f"{path}: line {i}: row {fields[0]!r} out of order; rows go A, C, G, T")
            fields = fields[1:]
        try:
            counts = [float(x) for x in fields]
        except ValueError:
            raise InputError(f"{path}: line {i}: {text[:40]!r} is not a row of counts") from None
        if any(c < 0 for c in counts) or len(rows) == 4:
            raise InputError(f"{path}: line {i}: counts must be >= 0, four rows per motif")
        rows.append(counts)
    finish()
    if not motifs:
        raise InputError(f"{path}: no motifs found; expected JASPAR format ('>ID NAME' and four count rows)")
    return motifs


def hit_counts(sequences: Sequence[str], motif: Motif, *, background: Sequence[float] = (0.25,) * 4,
               threshold: float = 0.85, chunk: int = 512) -> np.ndarray:
    """Hits of ``motif`` per sequence (both strands), shape (n,); sequences may differ in length.

    Rows are padded with N (which never scores a hit) in chunks of ``chunk`` sequences of
    similar length, so memory stays bounded on long elements.
    """
    seqs = list(sequences)
    out = np.zeros(len(seqs), dtype=np.int64)
    order = np.argsort([len(s) for s in seqs], kind="stable")
    for start in range(0, len(seqs), chunk):
        idx = order[start : start + chunk]
        width = max(len(seqs[i]) for i in idx)
        codes = dna_codes([seqs[i].ljust(width, "N") for i in idx])
        out[idx] = count_hits(codes, motif, threshold=threshold, background=background)
    return out


def mantel_haenszel_or(has: np.ndarray, outcome: np.ndarray, strata: np.ndarray) -> float:
    """Mantel-Haenszel odds ratio of ``outcome`` for ``has`` (both bool, shape (n,)) over ``strata``."""
    num = den = 0.0
    for s in np.unique(strata):
        m = strata == s
        a, b = np.sum(has[m] & outcome[m]), np.sum(~has[m] & outcome[m])
        c, d = np.sum(has[m] & ~outcome[m]), np.sum(~has[m] & ~outcome[m])
        num += a * d / m.sum()
        den += b * c / m.sum()
    return float(num / den) if den else float("nan")


def gc_deciles(sequences: Sequence[str]) -> np.ndarray:
    """GC-content decile (0-9) of each sequence (GC over A/C/G/T bases), shape (n,)."""
    gc = np.array([(s.count("G") + s.count("C")) / max(1, len(s) - s.count("N")) for s in sequences])
    return np.searchsorted(np.quantile(gc, np.linspace(0.1, 0.9, 9)), gc)


def motif_table(sequences: Sequence[str], labels: Sequence[int], scores: Sequence[float] | None = None, *,
                motifs: Mapping[str, Motif] | None = None, threshold: float = 0.85):
    """Per motif: hit rates in positives and negatives, odds ratios raw and GC-adjusted (see the
    module docstring), and with ``scores`` the GC-adjusted odds ratio of a hit for a top-half score.

    Returns a DataFrame (one row per motif, in ``motifs`` order; default the liver motifs).
    """
    import pandas as pd
    from scipy.stats import fisher_exact

    from genomic_ulmfit.models.base import check_binary_labels, check_sequences

    seqs = [s.upper() for s in check_sequences(sequences, "motif")]
    y = check_binary_labels(seqs, labels, "motif") == 1
    if not 0 < threshold <= 1:
        raise InputError(f"motif threshold {threshold} is not a relative score; give a value in (0, 1], e.g. 0.85")
    neg = "".join(s for s, pos in zip(seqs, y) if not pos)
    counts = np.array([neg.count(b) for b in ROWS], dtype=np.float64) + 1.0
    background = counts / counts.sum()
    strata = gc_deciles(seqs)
    top = None
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64)
        if s.shape != y.shape or not np.isfinite(s).all():
            raise InputError(f"motif: {s.size} scores for {y.size} sequences (or a score is not finite)")
        top = s >= np.median(s)
    rows = []
    for name, motif in (motifs or MOTIFS).items():
        has = hit_counts(seqs, motif, background=background, threshold=threshold) > 0
        table = [[int((has & y).sum()), int((~has & y).sum())], [int((has & ~y).sum()), int((~has & ~y).sum())]]
        odds, p = fisher_exact(table)
        row = {"motif": name, "id": motif.jaspar_id, "positives_with_hit": round(float(has[y].mean()), 4),
               "negatives_with_hit": round(float(has[~y].mean()), 4), "odds_ratio": round(float(odds), 3),
               "fisher_p": float(f"{p:.3g}"), "gc_adjusted_or": round(mantel_haenszel_or(has, y, strata), 3)}
        if top is not None:
            row["score_gc_adjusted_or"] = round(mantel_haenszel_or(has, top, strata), 3)
        rows.append(row)
    return pd.DataFrame(rows)
