"""Train/valid/test splits and cross-validation folds that never separate duplicates.

Rows are stratified per species × label. Rows sharing a canonical sequence (exact duplicates and
reverse complements, within or across species; optionally near-duplicates too) form one group, and a group always lands in a
single split or fold; it is assigned with the stratum of its first row. Inside each stratum the
groups are shuffled by a generator seeded with ``(seed, crc32(stratum))``, so a stratum's
assignment does not change when other species are added, and the same seed gives the same result.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from genomic_ulmfit.data.dataset import SPLITS
from genomic_ulmfit.data.leakage import duplicate_groups
from genomic_ulmfit.errors import ConfigError


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
    n = len(df)
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out
    first = pd.Series(np.arange(n)).groupby(groups).min()  # first row of each group
    gid = first.index.to_numpy()
    first_row = first.to_numpy()
    sizes = np.bincount(groups, minlength=int(gid.max()) + 1)[gid]
    stratum_key = (df["species"].astype(str) + "\x00" + df["label"].astype(str)).to_numpy()[first_row]
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
    return out


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
