"""Motif interpretation: which transcription-factor motifs separate the classes, and a model's scores.

For each motif (the JASPAR liver factors of :mod:`genomic_ulmfit.data.motifs`, or any JASPAR
file read with :func:`read_jaspar`) :func:`motif_table` counts hits on both strands (relative
score >= ``threshold``, log-odds against the negatives' base composition, so that GC content alone
does not make hits) and reports, per motif:

* the share of positives and of negatives with at least one hit, their odds ratio and Fisher's
  exact p;
* the Mantel-Haenszel odds ratio over GC-content deciles, its 95% CI (Robins-Breslow-Greenland)
  and the Cochran-Mantel-Haenszel p: enhancers are often GC-richer than their background, which by
  itself makes AT-rich sites rarer in them;
* given a model's scores, the Mantel-Haenszel odds ratio of a hit for a score above the median
  within each class × GC decile: whether the model ranks sequences with the motif higher than
  other sequences *of the same class and GC content*. (Without the class strata any accurate
  model, even one that never looked at the motif, would inherit the motif's association with
  the label.)

On Cohn human this finds HNF4A, HNF1A and FOXA2 enriched in liver enhancers once GC is accounted
for (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from genomic_ulmfit.data.motifs import (  # noqa: F401 - read_jaspar is this module's API too
    BASES,
    MOTIFS,
    Motif,
    dna_codes,
    read_jaspar,
    relative_cut,
    scan_scores,
)
from genomic_ulmfit.data.sequences import gc_content
from genomic_ulmfit.errors import InputError

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def strand_background(sequences: Sequence[str]) -> np.ndarray:
    """Base frequencies (A, C, G, T) of both strands of upper-case ``sequences``, shape (4,).

    Motifs are scanned on both strands, so the log-odds background counts each base with its
    complement (A = T, C = G): the table then does not change when sequences are given
    reverse-complemented. One pseudocount per base.
    """
    joined = "".join(sequences)
    counts = np.array([joined.count(b) for b in BASES], dtype=np.float64) + 1.0
    counts = (counts + counts[::-1]) / 2  # BASES is ACGT: reversed, each base's complement
    return counts / counts.sum()


def hit_counts(sequences: Sequence[str], motif: Motif, *, background: Sequence[float] = (0.25,) * 4,
               threshold: float = 0.85, chunk: int = 512) -> np.ndarray:
    """Hits of ``motif`` per sequence (both strands), shape (n,); sequences may differ in length.

    A hit is an offset whose log-odds score reaches ``threshold`` of the way from the motif's
    minimum to its maximum score (as :func:`~genomic_ulmfit.data.motifs.count_hits`; a tolerance
    of 1e-9 lets ``threshold=1`` find the best site). Sequences are scanned in chunks of
    ``chunk`` of similar length, padded with N; offsets that reach into the padding are not
    counted, so a sequence's hits do not depend on the others.
    """
    seqs = list(sequences)
    out = np.zeros(len(seqs), dtype=np.int64)
    cut = relative_cut(motif, threshold, background) - 1e-9
    order = np.argsort([len(s) for s in seqs], kind="stable")
    for start in range(0, len(seqs), chunk):
        idx = order[start : start + chunk]
        width = max(len(seqs[i]) for i in idx)
        scores = scan_scores(dna_codes([seqs[i].ljust(width, "N") for i in idx]), motif, background=background)
        last = np.array([len(seqs[i]) for i in idx]) - motif.length  # the last offset inside each sequence
        inside = np.arange(scores.shape[1])[None, :] <= last[:, None]
        out[idx] = ((scores >= cut) & inside).sum(axis=1)
    return out


def mantel_haenszel(has: np.ndarray, outcome: np.ndarray, strata: np.ndarray) -> dict[str, float]:
    """Mantel-Haenszel odds ratio of ``outcome`` for ``has`` (both bool, shape (n,)) over ``strata``.

    Returns ``or``, its 95% CI ``lo``/``hi`` (Robins-Breslow-Greenland variance of log OR) and
    ``p``, the Cochran-Mantel-Haenszel test of OR = 1 (no continuity correction). Strata with
    one row carry no information and are skipped. An OR of 0 or inf (a zero cell in every
    stratum) has no CI; when no stratum informs it, OR and p are NaN.
    """
    from scipy.stats import chi2

    r = s = pr = ps_qr = qs = dev = var = 0.0
    for k in np.unique(strata):
        m = strata == k
        n = m.sum()
        if n < 2:
            continue
        a, b = float(np.sum(has[m] & outcome[m])), float(np.sum(~has[m] & outcome[m]))
        c, d = float(np.sum(has[m] & ~outcome[m])), float(np.sum(~has[m] & ~outcome[m]))
        p_, q_ = (a + d) / n, (b + c) / n
        r_, s_ = a * d / n, b * c / n
        r, s = r + r_, s + s_
        pr, ps_qr, qs = pr + p_ * r_, ps_qr + p_ * s_ + q_ * r_, qs + q_ * s_
        dev += a - (a + b) * (a + c) / n
        var += (a + b) * (c + d) * (a + c) * (b + d) / (n * n * (n - 1))
    p = float(chi2.sf(dev * dev / var, 1)) if var > 0 else float("nan")
    if r == 0 or s == 0:  # no CI on the log scale
        odds = float("nan") if r == s else (0.0 if r == 0 else float("inf"))
        return {"or": odds, "lo": float("nan"), "hi": float("nan"), "p": p}
    odds = r / s
    se = np.sqrt(pr / (2 * r * r) + ps_qr / (2 * r * s) + qs / (2 * s * s))
    return {"or": float(odds), "lo": float(np.exp(np.log(odds) - Z95 * se)),
            "hi": float(np.exp(np.log(odds) + Z95 * se)), "p": p}


def gc_deciles(sequences: Sequence[str]) -> np.ndarray:
    """GC-content decile (0-9) of each sequence (GC over A/C/G/T bases), shape (n,)."""
    gc = np.nan_to_num(gc_content(list(sequences)), nan=0.0)  # all-N sequences go with the AT-richest
    return np.searchsorted(np.quantile(gc, np.linspace(0.1, 0.9, 9)), gc)


def check_threshold(threshold: float) -> None:
    """A relative PWM score cut-off must lie in (0, 1]."""
    if not 0 < threshold <= 1:
        raise InputError(f"motif threshold {threshold} is not a relative score; give a value in (0, 1], e.g. 0.85")


def motif_table(sequences: Sequence[str], labels: Sequence[int], scores: Sequence[float] | None = None, *,
                motifs: Mapping[str, Motif] | None = None, threshold: float = 0.85, progress: bool = False):
    """Per motif: hit rates in positives and negatives, odds ratios raw and GC-adjusted with CI and p
    (see the module docstring), and with ``scores`` the odds ratio of a hit for a score above its
    class's median within class × GC decile (``score_or``, ``score_p``).

    Returns a DataFrame (one row per motif, in ``motifs`` order; default the liver motifs).
    ``progress``: a progress bar over the motifs (a whole JASPAR release on 5k sequences of 500 bp
    takes ~80 s).
    """
    import pandas as pd
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from scipy.stats import fisher_exact

    from genomic_ulmfit.models.base import check_binary_labels, check_sequences

    seqs = [s.upper() for s in check_sequences(sequences, "motif")]
    y = check_binary_labels(seqs, labels, "motif") == 1
    check_threshold(threshold)
    background = strand_background([s for s, pos in zip(seqs, y) if not pos])
    strata = gc_deciles(seqs)
    top = None
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64)
        if s.shape != y.shape or not np.isfinite(s).all():
            raise InputError(f"motif: {s.size} scores for {y.size} sequences (or a score is not finite)")
        top = np.zeros(len(s), bool)
        for cls in (False, True):  # above the median of its own class
            top[y == cls] = s[y == cls] > np.median(s[y == cls])
    rows = []
    motifs = motifs or MOTIFS
    bar = Progress(TextColumn("motifs"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   disable=not progress)
    with bar:
        for name, motif in bar.track(motifs.items(), total=len(motifs)):
            has = hit_counts(seqs, motif, background=background, threshold=threshold) > 0
            table = [[int((has & y).sum()), int((~has & y).sum())], [int((has & ~y).sum()), int((~has & ~y).sum())]]
            odds, p = fisher_exact(table)
            adj = mantel_haenszel(has, y, strata)
            row = {"motif": name, "id": motif.jaspar_id, "positives_with_hit": round(float(has[y].mean()), 4),
                   "negatives_with_hit": round(float(has[~y].mean()), 4), "odds_ratio": round(float(odds), 3),
                   "fisher_p": float(f"{p:.3g}"), "gc_adjusted_or": round(adj["or"], 3),
                   "gc_adjusted_lo": round(adj["lo"], 3), "gc_adjusted_hi": round(adj["hi"], 3),
                   "gc_adjusted_p": float(f"{adj['p']:.3g}")}
            if top is not None:
                by_score = mantel_haenszel(has, top, strata * 2 + y)  # within class × GC decile
                row.update(score_or=round(by_score["or"], 3), score_p=float(f"{by_score['p']:.3g}"))
            rows.append(row)
    return pd.DataFrame(rows)


def top_features(model, n: int = 20):
    """The ``n`` sequence features a linear composition model weighs most, as a DataFrame
    (rank, feature, weight; positive weights favour "enhancer").

    Works for the k-mer LR (``kmer``: canonical k-mers, weights on standardised frequencies) and
    the linear gkm-SVM (``gkm:linear``: gapped k-mers, gaps as ``.``, weights per occurrence before
    normalisation by the sequence's norm). Other models have no weight per feature: InputError.
    """
    import pandas as pd

    if getattr(model, "kind", None) == "kmer":
        rows = model.top_kmers(n)
    elif getattr(model, "kind", None) == "gkm":
        rows = model.top_gapped_kmers(n)  # an RBF model has none: InputError
    else:
        raise InputError(f"a {getattr(model, 'kind', type(model).__name__)} model has no weight per k-mer; "
                         "top features come from --model kmer or --model gkm:linear runs")
    return pd.DataFrame({"rank": np.arange(1, len(rows) + 1), "feature": [f for f, _ in rows],
                         "weight": [w for _, w in rows]})
