"""Train/valid/test splits and cross-validation folds that never separate duplicates.

Rows are stratified per species × label. Rows sharing a canonical sequence (exact duplicates and
reverse complements, within or across species; optionally near-duplicates too) form one group, and a group always lands in a
single split or fold; it is assigned with the stratum of its first row. Inside each stratum the
groups are shuffled by a generator seeded with ``(seed, crc32(stratum))``, so a stratum's
assignment does not change when other species are added, and the same seed gives the same result.

A large group whose rows span strata (e.g. repeat-sharing near-duplicates of both labels) can
defeat that fill: it lands where its first row's stratum puts it and counts only there. When a
split or fold ends up more than :data:`MAX_SHARE_GAP` off a stratum's overall share, the groups
are instead placed greedily, largest first, into the bin their rows unbalance least
(:func:`_balance_bins`), and the better of the two assignments is kept.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from genomic_ulmfit.data.dataset import SPLITS
from genomic_ulmfit.data.leakage import duplicate_groups
from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.utils import check_seed


def validate_fractions(fractions: Sequence[float] | str) -> tuple[float, float, float]:
    """Check train/valid/test fractions: three numbers >= 0 summing to 1.

    ``fractions`` may be a sequence or a comma-separated string such as ``"0.8,0.1,0.1"``.

    Raises
    ------
    ConfigError
        Naming the value received.
    """
    raw = fractions
    if isinstance(fractions, str):
        try:
            fractions = [float(x) for x in fractions.split(",")]
        except ValueError:
            raise ConfigError(f"fractions {raw!r} must be three numbers like 0.8,0.1,0.1") from None
    try:
        vals = tuple(float(x) for x in fractions)
    except (TypeError, ValueError):
        raise ConfigError(f"fractions {raw!r} must be three numbers like 0.8,0.1,0.1") from None
    if len(vals) != 3:
        raise ConfigError(f"fractions {raw!r} must be three numbers (train, valid, test), got {len(vals)}")
    if any(not np.isfinite(v) or v < 0 for v in vals):
        raise ConfigError(f"fractions {raw!r} must each be >= 0")
    if abs(sum(vals) - 1.0) > 1e-6:
        raise ConfigError(f"fractions {raw!r} must sum to 1, they sum to {sum(vals):g}")
    return vals  # type: ignore[return-value]


MAX_SHARE_GAP = 0.1
"""Largest accepted gap between a stratum's share of a bin and its share of all rows."""

MIN_BIN_ROWS = 50
"""Bins smaller than this are not judged by their shares (too few rows for a share to mean much)."""


def _assign_bins(df: pd.DataFrame, weights: Sequence[float], seed: int, groups: np.ndarray) -> np.ndarray:
    """Bin index per row (0..len(weights)-1), groups kept whole, stratified per species × label.

    Parameters
    ----------
    df : DataFrame with ``species`` and ``label``, n rows
    weights : sequence of float summing to 1
    seed : int
    groups : ndarray of int64, shape (n,)
        Group id per row.

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    check_seed(seed)
    n = len(df)
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out
    first = pd.Series(np.arange(n)).groupby(groups).min()  # first row of each group
    gid = first.index.to_numpy()
    first_row = first.to_numpy()
    sizes = np.bincount(groups, minlength=int(gid.max()) + 1)[gid]
    species = df["species"].astype(str) if "species" in df else pd.Series("", index=df.index)  # one species
    row_key = (species + "\x00" + df["label"].astype(str)).to_numpy()
    stratum_key = row_key[first_row]
    cum_w = np.cumsum(weights)
    group_bin = np.zeros(int(gid.max()) + 1, dtype=np.int64)
    for key in np.unique(stratum_key):
        sel = np.flatnonzero(stratum_key == key)
        rng = np.random.default_rng([seed, zlib.crc32(str(key).encode())])
        sel = sel[rng.permutation(len(sel))]
        total = sizes[sel].sum()
        before = np.cumsum(sizes[sel]) - sizes[sel]  # rows placed before each group
        bounds = np.round(cum_w * total)
        bins = np.searchsorted(bounds, before, side="right")
        group_bin[gid[sel]] = np.minimum(bins, len(weights) - 1)
    out[:] = group_bin[groups]
    strata = np.unique(row_key, return_inverse=True)[1]
    gap = share_gap(out, strata, len(weights))
    if gap > MAX_SHARE_GAP:
        balanced = _balance_bins(strata, groups, weights, seed)
        if share_gap(balanced, strata, len(weights)) < gap:
            return balanced
    return out


def share_gap(bins: np.ndarray, strata: np.ndarray, n_bins: int) -> float:
    """Largest gap between a stratum's share of a bin and its share of all rows.

    Bins with fewer than :data:`MIN_BIN_ROWS` rows are skipped.

    Parameters
    ----------
    bins, strata : ndarray of int, shape (n,)
        Bin and stratum index per row.
    n_bins : int

    Returns
    -------
    float in [0, 1]
    """
    counts = np.zeros((n_bins, int(strata.max()) + 1))
    np.add.at(counts, (bins, strata), 1)
    per_bin = counts.sum(1)
    big = per_bin >= MIN_BIN_ROWS
    if not big.any():
        return 0.0
    overall = counts.sum(0) / counts.sum()
    return float(np.abs(counts[big] / per_bin[big, None] - overall).max())


def _balance_bins(strata: np.ndarray, groups: np.ndarray, weights: Sequence[float], seed: int) -> np.ndarray:
    """Greedy stratified assignment of whole groups, for groups that span strata.

    Groups of two or more rows go first, largest first (ties in seeded random order), each into
    the bin where its rows add the least weighted squared excess over the bin's per-stratum
    target ``weight × stratum rows``. Single rows then fill each stratum's remaining room in
    seeded random order.

    Parameters
    ----------
    strata, groups : ndarray of int, shape (n,)
        Stratum index and group id per row.
    weights : sequence of float summing to 1
    seed : int

    Returns
    -------
    ndarray of int64, shape (n,)
        Bin per row.
    """
    w = np.asarray(weights, dtype=float)
    n_strata = int(strata.max()) + 1
    gid, g_index = np.unique(groups, return_inverse=True)
    counts = np.zeros((len(gid), n_strata))
    np.add.at(counts, (g_index, strata), 1)
    sizes = counts.sum(1)
    target = w[:, None] * counts.sum(0)[None, :]  # (bins, strata)
    scale = np.maximum(target, 1.0)
    filled = np.zeros_like(target)
    group_bin = np.full(len(gid), -1, dtype=np.int64)
    rng = np.random.default_rng([seed, zlib.crc32(b"balance")])
    multi = np.flatnonzero(sizes > 1)
    multi = multi[rng.permutation(len(multi))]
    multi = multi[np.argsort(-sizes[multi], kind="stable")]
    live = w > 0
    for g in multi:
        v = counts[g]
        cost = ((2 * (filled - target) + v) * v / scale).sum(1)  # change of sum((filled - target)^2 / scale)
        b = int(np.flatnonzero(live)[np.argmin(cost[live])])
        group_bin[g] = b
        filled[b] += v
    single_stratum = counts.argmax(1)
    for s in range(n_strata):
        sel = np.flatnonzero((sizes == 1) & (single_stratum == s))
        if not len(sel):
            continue
        sel = sel[rng.permutation(len(sel))]
        room = np.clip(target[:, s] - filled[:, s], 0, None)
        if room.sum() == 0:
            room = w.copy()
        bounds = np.round(np.cumsum(room) / room.sum() * len(sel))
        group_bin[sel] = np.minimum(np.searchsorted(bounds, np.arange(len(sel)), side="right"), len(w) - 1)
    return group_bin[g_index]


def assign_splits(
    df: pd.DataFrame,
    fractions: Sequence[float] | str = (0.8, 0.1, 0.1),
    seed: int = 0,
    *,
    near_k: int | None = None,
) -> pd.DataFrame:
    """Return a copy of ``df`` with ``split`` set to train/valid/test.

    Parameters
    ----------
    df : DataFrame
        Dataset table (``sequence``, ``species``, ``label``).
    fractions : (float, float, float) or str, default (0.8, 0.1, 0.1)
        Train, valid and test fractions of each species × label stratum (by rows).
    seed : int, default 0
    near_k : int or None
        Also keep near-duplicates (sharing sampled k-mers of this length, see
        :func:`genomic_ulmfit.data.leakage.near_duplicate_pairs`) in one split.

    Returns
    -------
    DataFrame
        Existing ``fold`` assignments are dropped (they depended on the old split).
    """
    weights = validate_fractions(fractions)
    groups = duplicate_groups(df["sequence"].astype(object).tolist(), near_k=near_k)
    bins = _assign_bins(df, weights, seed, groups)
    out = df.drop(columns=["fold"], errors="ignore").copy()
    out["split"] = pd.array(np.asarray(SPLITS, dtype=object)[bins], dtype="str")
    return out


def assign_folds(df: pd.DataFrame, k: int = 5, seed: int = 0, *, near_k: int | None = None) -> pd.DataFrame:
    """Return a copy of ``df`` with a ``fold`` column (int16) for k-fold cross-validation.

    Folds cover the rows outside the test split (all rows when the table is unsplit); test rows
    get fold -1. Stratified per species × label, duplicate groups kept whole.

    Parameters
    ----------
    df : DataFrame
        Dataset table.
    k : int, default 5
        Number of folds, >= 2.
    seed : int, default 0
    near_k : int or None
        Also keep near-duplicates in one fold (see :func:`assign_splits`).
    """
    if not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"number of folds k={k!r} must be an integer >= 2")
    out = df.copy()
    fold = np.full(len(df), -1, dtype=np.int16)
    in_cv = (df["split"].astype(str) != "test").to_numpy() if "split" in df else np.ones(len(df), bool)
    rows = np.flatnonzero(in_cv)
    if len(rows):
        sub = df.iloc[rows]
        groups = duplicate_groups(sub["sequence"].astype(object).tolist(), near_k=near_k)
        fold[rows] = _assign_bins(sub, [1.0 / k] * k, seed, groups)
    out["fold"] = fold
    return out


def split_problems(df: pd.DataFrame, weights: Sequence[float] | None, folds: int | None = None) -> list[str]:
    """What makes a split dataset unusable for scoring, one line each (empty when all is well).

    With ``weights`` (train, valid, test): valid/test splits given a weight but missing a class for
    some species (AUROC is undefined there). With ``folds``: empty folds (fewer duplicate groups
    than folds) or one-class folds.
    """
    out = []
    for sp, g in df.groupby("species", sort=True) if weights is not None else ():
        for name, w in zip(("valid", "test"), weights[1:]):
            labels = set(g.loc[g["split"] == name, "label"])
            if w > 0 and labels != {0, 1}:
                what = "is empty" if not labels else f"holds no {'negatives' if 1 in labels else 'positives'}"
                out.append(f"species {sp}: the {name} split {what} (AUROC cannot be computed on it); "
                           "import more sequences or give it a larger share (`genomic-ulmfit data split --fractions`)")
    if folds is not None:
        cv = df[df["fold"] >= 0]
        empty = [k for k in range(folds) if not (cv["fold"] == k).any()]
        one_class = [k for k in range(folds) if k not in empty and cv.loc[cv["fold"] == k, "label"].nunique() < 2]
        if empty:
            out.append(f"{len(empty)} of {folds} folds are empty: there are fewer groups of (near-)duplicates than "
                       "folds; use fewer --folds")
        if one_class:
            out.append(f"{len(one_class)} of {folds} folds hold one class only (AUROC cannot be computed on them); "
                       "use fewer --folds")
    return out
