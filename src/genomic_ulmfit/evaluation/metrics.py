"""Binary classification metrics, stratified bootstrap CIs and the paired DeLong test.

Everything works on plain arrays: ``y_true`` holds 0/1 labels (1 = enhancer) and ``y_score``
holds P(enhancer) or any score where larger means "more likely an enhancer". The AUROC of a
bootstrap replicate is computed with the rank (Mann-Whitney) formula on a whole matrix of
resampled indices at once, so 1000 replicates cost a handful of NumPy calls, not 1000 fits.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy.stats import norm, rankdata

from genomic_ulmfit.errors import ConfigError, InputError

METRIC_NAMES = ("auroc", "auprc", "accuracy", "precision", "recall", "specificity", "mcc")
BOOTSTRAP_METRICS = ("auroc", "auprc")
# Largest number of matrix cells ranked at once in the bootstrap (bounds memory to ~100 MB).
_CHUNK_CELLS = 4_000_000


class UndefinedMetricWarning(UserWarning):
    """A ranking metric is undefined because ``y_true`` holds only one class."""


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _check_inputs(y_true: Any, y_score: Any, name: str = "y_score") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(y, s)`` as int8 labels and float64 scores of shape (n,), or raise InputError."""
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1:
        raise InputError(f"y_true and {name} must be 1-D; got shapes {y.shape} and {s.shape}")
    if y.shape != s.shape:
        raise InputError(f"y_true has {y.size} values but {name} has {s.size}; pass one score per label")
    if y.size == 0:
        raise InputError("no predictions to evaluate (empty y_true); check the test set is not empty")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise InputError(f"y_true must hold only 0 and 1; found {y[bad][0]!r} at index {int(np.argmax(bad))}")
    if not np.isfinite(s).all():
        i = int(np.argmax(~np.isfinite(s)))
        raise InputError(f"{name} holds a non-finite value ({s[i]}) at index {i}; check the model output")
    return y.astype(np.int8), s


def undefined_reason(y_true: Any) -> str | None:
    """Why AUROC/AUPRC cannot be computed for ``y_true`` (shape (n,)), or None when they can."""
    y = np.asarray(y_true)
    n_pos = int((y == 1).sum())
    if n_pos == 0:
        return f"no positives among {y.size} labels: AUROC, AUPRC, recall and MCC undefined"
    if n_pos == y.size:
        return f"no negatives among {y.size} labels: AUROC, AUPRC, specificity and MCC undefined"
    return None


# --------------------------------------------------------------------------------------------
# Point estimates
# --------------------------------------------------------------------------------------------


def auroc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve by the rank formula (ties count one half); NaN for one class.

    Parameters
    ----------
    y_true : array of 0/1, shape (n,)
    y_score : array of float, shape (n,)
    """
    y, s = _check_inputs(y_true, y_score)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(s)  # (n,) average ranks for ties
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y_true: Any, y_score: Any) -> float:
    """Average precision (area under the step PR curve, as scikit-learn); NaN without positives."""
    y, s = _check_inputs(y_true, y_score)
    if y.sum() == 0 or y.sum() == y.size:
        return math.nan
    return float(_average_precision_rows(s[None, :], y[None, :])[0])


def _average_precision_rows(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Average precision of every row.

    Parameters
    ----------
    scores : float array, shape (r, n)
    labels : 0/1 array, shape (r, n); every row holds at least one positive.

    Returns
    -------
    float64 array, shape (r,). Tied scores form one threshold, as in scikit-learn.
    """
    order = np.argsort(-scores, axis=1, kind="stable")  # (r, n) descending
    s = np.take_along_axis(scores, order, axis=1)
    lab = np.take_along_axis(labels, order, axis=1).astype(np.float64)
    tp = np.cumsum(lab, axis=1)  # (r, n)
    rank = np.arange(1, s.shape[1] + 1, dtype=np.float64)
    # A threshold ends where the next score differs (or at the last column).
    last = np.ones_like(s, dtype=bool)
    last[:, :-1] = s[:, :-1] != s[:, 1:]
    tp_at = np.where(last, tp, 0.0)
    prev_tp = np.maximum.accumulate(tp_at, axis=1)  # tp is non-decreasing, so this is the last boundary
    prev_tp = np.concatenate([np.zeros((s.shape[0], 1)), prev_tp[:, :-1]], axis=1)
    gain = np.where(last, tp - prev_tp, 0.0)  # new true positives at each threshold
    precision = tp / rank
    return (gain * precision).sum(axis=1) / tp[:, -1]


def binary_metrics(y_true: Any, y_score: Any, threshold: float = 0.5) -> dict[str, float]:
    """Ranking and thresholded metrics of one set of predictions.

    Parameters
    ----------
    y_true : array of 0/1, shape (n,)
    y_score : array of float, shape (n,)
        P(enhancer) or any score; a sequence is called positive when ``score >= threshold``.
    threshold : float, default 0.5

    Returns
    -------
    dict of Python floats: ``auroc``, ``auprc`` (average precision), ``accuracy``, ``precision``,
    ``recall`` (sensitivity), ``specificity``, ``mcc``, ``n``, ``n_pos``. A metric that is undefined
    is NaN, not 0: with one class only, AUROC, AUPRC, MCC and recall (no positives) or
    specificity (no negatives), with an :class:`UndefinedMetricWarning` giving the reason;
    precision when no sequence is called positive. MCC is 0.0 when both classes are present but
    every call is the same (scikit-learn's convention: no better than chance).
    """
    y, s = _check_inputs(y_true, y_score)
    reason = undefined_reason(y)
    if reason is not None:
        warnings.warn(reason, UndefinedMetricWarning, stacklevel=2)
        roc = pr = math.nan
    else:
        roc, pr = auroc(y, s), average_precision(y, s)
    pred = s >= threshold
    pos = y == 1
    tp = float(np.count_nonzero(pred & pos))
    fp = float(np.count_nonzero(pred & ~pos))
    fn = float(np.count_nonzero(~pred & pos))
    tn = float(np.count_nonzero(~pred & ~pos))
    denom = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "auroc": roc,
        "auprc": pr,
        "accuracy": (tp + tn) / y.size,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "mcc": (tp * tn - fp * fn) / denom if denom > 0 else (math.nan if reason else 0.0),
        "n": float(y.size),
        "n_pos": float(pos.sum()),
    }


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


# --------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------


def bootstrap_indices(y_true: Any, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Stratified bootstrap: resample positives and negatives separately (with replacement).

    Returns
    -------
    int64 array, shape (n_boot, n): row ``b`` holds indices into ``y_true``; its first ``n_pos``
    columns are positives and the rest negatives, so every replicate keeps the class counts.
    (:func:`bootstrap_index_blocks` gives the same rows a block at a time, in bounded memory.)
    """
    y = np.asarray(y_true)
    blocks = list(bootstrap_index_blocks(y, n_boot, seed, rows=n_boot))
    return blocks[0] if blocks else np.empty((0, y.size), np.int64)


def bootstrap_index_blocks(y_true: Any, n_boot: int, seed: int, rows: int) -> Iterator[np.ndarray]:
    """The rows of :func:`bootstrap_indices` in blocks of at most ``rows``, each int64 (r, n).

    The positives' draws of all replicates come first in the random stream, then the negatives';
    a second generator on the same seed skips the positives' draws (block by block) to reach the
    negatives', so the rows equal those drawn all at once while only a block is held in memory.
    """
    y = np.asarray(y_true)
    pos = np.flatnonzero(y == 1)
    neg = np.flatnonzero(y == 0)
    rng_pos, rng_neg = np.random.default_rng(seed), np.random.default_rng(seed)
    starts = range(0, n_boot, max(1, rows))
    if pos.size:
        for start in starts:
            rng_neg.integers(0, pos.size, size=(min(rows, n_boot - start), pos.size))
    for start in starts:
        r = min(rows, n_boot - start)
        ip = pos[rng_pos.integers(0, pos.size, size=(r, pos.size))] if pos.size else np.empty((r, 0), np.int64)
        ineg = neg[rng_neg.integers(0, neg.size, size=(r, neg.size))] if neg.size else np.empty((r, 0), np.int64)
        yield np.concatenate([ip, ineg], axis=1).astype(np.int64, copy=False)


def auroc_rows(scores: np.ndarray, n_pos: int) -> np.ndarray:
    """AUROC of every row of ``scores`` (shape (r, n)) whose first ``n_pos`` columns are positives.

    Rank formula per row: (sum of positive ranks - n_pos (n_pos + 1) / 2) / (n_pos n_neg), with
    average ranks for ties. Returns float64, shape (r,).
    """
    n_neg = scores.shape[1] - n_pos
    ranks = rankdata(scores, axis=1)  # (r, n)
    return (ranks[:, :n_pos].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


MIN_CI_PER_CLASS = 5


def too_few_for_ci(y_true: Any) -> str | None:
    """Why no bootstrap CI is given for ``y_true`` (fewer than :data:`MIN_CI_PER_CLASS` positives
    or negatives), or None."""
    y = np.asarray(y_true)
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if min(n_pos, n_neg) < MIN_CI_PER_CLASS:
        return f"{n_pos} positives and {n_neg} negatives: no bootstrap CI below {MIN_CI_PER_CLASS} of each"
    return None


def bootstrap_replicates(
    y_true: Any, y_score: Any, metric: str = "auroc", n_boot: int = 1000, seed: int = 0
) -> np.ndarray:
    """The metric on each of ``n_boot`` stratified bootstrap replicates, float64 shape (n_boot,).

    ``metric`` is ``"auroc"`` or ``"auprc"``. All-NaN when ``y_true`` holds fewer than
    :data:`MIN_CI_PER_CLASS` positives or negatives (one class only, say).
    """
    if metric not in BOOTSTRAP_METRICS:
        raise ConfigError(
            f"metric={metric!r} is not supported for the bootstrap; use one of {BOOTSTRAP_METRICS}"
        )
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1, got {n_boot}")
    y, s = _check_inputs(y_true, y_score)
    if too_few_for_ci(y) is not None:
        return np.full(n_boot, np.nan)
    n_pos = int(y.sum())
    out = np.empty(n_boot, dtype=np.float64)
    step = max(1, _CHUNK_CELLS // y.size)  # index blocks drawn one at a time: memory stays bounded
    for start, block in zip(range(0, n_boot, step), bootstrap_index_blocks(y, n_boot, seed, step), strict=True):
        if metric == "auroc":
            out[start : start + step] = auroc_rows(s[block], n_pos)
        else:
            out[start : start + step] = _average_precision_rows(s[block], y[block])
    return out


def bootstrap_ci(
    y_true: Any,
    y_score: Any,
    metric: str = "auroc",
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Stratified percentile-bootstrap confidence interval of AUROC or AUPRC.

    Parameters
    ----------
    y_true : array of 0/1, shape (n,)
    y_score : array of float, shape (n,)
    metric : {"auroc", "auprc"}, default "auroc"
    n_boot : int, default 1000
        Number of replicates.
    alpha : float, default 0.05
        1 - confidence level; the interval is the (alpha/2, 1 - alpha/2) percentiles.
    seed : int, default 0
        The same seed gives the same interval.

    Returns
    -------
    (lo, hi) as Python floats; (nan, nan) when either class has fewer than
    :data:`MIN_CI_PER_CLASS` sequences (a bootstrap of a handful of sequences only resamples the
    same few scores, e.g. [1.0, 1.0] for one positive and one negative).
    """
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
    reps = bootstrap_replicates(y_true, y_score, metric=metric, n_boot=n_boot, seed=seed)
    if np.isnan(reps).all():
        return math.nan, math.nan
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


# --------------------------------------------------------------------------------------------
# DeLong
# --------------------------------------------------------------------------------------------


def _delong_placements(scores: np.ndarray, n_pos: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fast DeLong (Sun & Xu 2014) structural components.

    Parameters
    ----------
    scores : float array, shape (m, n); first ``n_pos`` columns are positives.

    Returns
    -------
    auc (m,), v01 (m, n_pos) positive placements, v10 (m, n_neg) negative placements.
    """
    n_neg = scores.shape[1] - n_pos
    pos, neg = scores[:, :n_pos], scores[:, n_pos:]
    tx = rankdata(pos, axis=1)
    ty = rankdata(neg, axis=1)
    tz = rankdata(scores, axis=1)
    auc = tz[:, :n_pos].sum(axis=1) / (n_pos * n_neg) - (n_pos + 1.0) / (2.0 * n_neg)
    v01 = (tz[:, :n_pos] - tx) / n_neg  # fraction of negatives below each positive
    v10 = 1.0 - (tz[:, n_pos:] - ty) / n_pos  # fraction of positives above each negative
    return auc, v01, v10


def delong_covariance(y_true: Any, *scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs of several score vectors on the same labels and their DeLong covariance.

    Returns
    -------
    auc : float64 array, shape (m,)
    cov : float64 array, shape (m, m)
    """
    arrays = [_check_inputs(y_true, s, name=f"score {i}")[1] for i, s in enumerate(scores)]
    y = _check_inputs(y_true, arrays[0])[0]
    reason = undefined_reason(y)
    if reason is not None:
        raise InputError(f"DeLong test needs both classes: {reason}")
    order = np.concatenate([np.flatnonzero(y == 1), np.flatnonzero(y == 0)])
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos < 2 or n_neg < 2:
        raise InputError(f"DeLong test needs >= 2 positives and >= 2 negatives; got {n_pos} and {n_neg}")
    mat = np.stack(arrays)[:, order]  # (m, n)
    auc, v01, v10 = _delong_placements(mat, n_pos)
    sx = np.atleast_2d(np.cov(v01))
    sy = np.atleast_2d(np.cov(v10))
    return auc, sx / n_pos + sy / n_neg


def delong_test(y: Any, score_a: Any, score_b: Any) -> tuple[float, float, float, float]:
    """Paired DeLong test of AUROC(a) == AUROC(b) on the same test set, O(n log n).

    Parameters
    ----------
    y : array of 0/1, shape (n,)
    score_a, score_b : arrays of float, shape (n,)
        Scores of two models for the same sequences.

    Returns
    -------
    (auc_a, auc_b, z, p): the two AUROCs, the z statistic of their difference and the two-sided
    p-value. Identical (or perfectly correlated) predictions give z = 0, p = 1.
    """
    auc, cov = delong_covariance(y, score_a, score_b)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = auc[0] - auc[1]
    if var <= 1e-300 or not np.isfinite(var):
        z = 0.0 if abs(diff) < 1e-15 else math.copysign(math.inf, diff)
    else:
        z = diff / math.sqrt(var)
    p = float(2 * norm.sf(abs(z)))
    return float(auc[0]), float(auc[1]), float(z), p


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def evaluate_predictions(
    df: Any,
    *,
    threshold: float = 0.5,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    pooled: bool = True,
):
    """One metrics row per (model, species), plus an ``"all"`` row pooling each model's species.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``species``, ``label`` (0/1), ``score`` and optionally ``model`` (default "model").
    threshold, n_boot, alpha, seed
        As in :func:`binary_metrics` and :func:`bootstrap_ci`.
    pooled : bool, default True
        Add the pooled ``"all"`` row (only when a model has more than one species).

    Returns
    -------
    pandas.DataFrame with columns model, species, n_test, n_pos, auroc, auroc_lo, auroc_hi, auprc,
    accuracy, precision, recall, specificity, mcc, note (empty unless a metric is undefined).
    """
    import pandas as pd

    missing = {"species", "label", "score"} - set(df.columns)
    if missing:
        raise InputError(
            f"predictions table lacks column(s) {', '.join(sorted(missing))}; "
            "it needs species, label, score (and optionally model)"
        )
    if len(df) == 0:
        raise InputError("predictions table is empty; nothing to evaluate")
    data = df.copy()
    if "model" not in data.columns:
        data["model"] = "model"
    rows = []
    for model, sub in data.groupby("model", sort=False):
        groups = list(sub.groupby("species", sort=False))
        if pooled and len(groups) > 1:
            groups.append(("all", sub))
        for species, part in groups:
            rows.append(
                _metrics_row(
                    str(model),
                    str(species),
                    part["label"].to_numpy(),
                    part["score"].to_numpy(),
                    threshold=threshold,
                    n_boot=n_boot,
                    alpha=alpha,
                    seed=seed,
                )
            )
    return pd.DataFrame(rows)


def _metrics_row(
    model: str,
    species: str,
    y: np.ndarray,
    s: np.ndarray,
    *,
    threshold: float,
    n_boot: int,
    alpha: float,
    seed: int,
) -> dict[str, Any]:
    """One row of :func:`evaluate_predictions`."""
    where = f"model {model!r}, species {species!r}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            m = binary_metrics(y, s, threshold)
        reason = undefined_reason(y) or too_few_for_ci(y)
        lo, hi = bootstrap_ci(y, s, "auroc", n_boot=n_boot, alpha=alpha, seed=seed)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    return {
        "model": model,
        "species": species,
        "n_test": int(m["n"]),
        "n_pos": int(m["n_pos"]),
        "auroc": m["auroc"],
        "auroc_lo": lo,
        "auroc_hi": hi,
        **{k: m[k] for k in METRIC_NAMES[1:]},
        "note": reason or "",
    }


def delong_vs_best(df: Any) -> Any:
    """Each model against the best one (highest AUROC) per species: paired DeLong tests.

    ``df``: long score table with ``model``, ``id``, ``species``, ``label``, ``score`` (every model
    scored on the same ids). Returns a DataFrame with species, model, best, auroc, auroc_best,
    delta (auroc - auroc_best), z, p; the best model's own row has delta 0 and p 1. Species where
    the models did not score the same ids, or with fewer than two positives or negatives, are
    skipped.
    """
    import pandas as pd

    rows = []
    for species, sub in df.groupby("species", sort=False):
        wide = sub.pivot_table(index="id", columns="model", values="score", aggfunc="first", sort=False)
        if wide.isna().any().any() or wide.shape[1] < 2:
            continue
        y = sub.drop_duplicates("id").set_index("id").loc[wide.index, "label"].to_numpy()
        if min(int((y == 1).sum()), int((y == 0).sum())) < 2:  # DeLong needs two of each class
            continue
        aucs = {m: auroc(y, wide[m].to_numpy()) for m in wide.columns}
        best = max(aucs, key=aucs.get)
        for m in wide.columns:
            a, b, z, pval = delong_test(y, wide[m].to_numpy(), wide[best].to_numpy())
            rows.append({"species": str(species), "model": str(m), "best": str(best), "auroc": a, "auroc_best": b,
                         "delta": a - b, "z": z, "p": pval})
    return pd.DataFrame(rows, columns=["species", "model", "best", "auroc", "auroc_best", "delta", "z", "p"])
