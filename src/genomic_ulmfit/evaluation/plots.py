"""PNG figures for reports: ROC/PR curves, cross-species heatmaps, training curves, AUROC bars.

Each function draws on its own :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot
state, no display needed), writes the PNG atomically and returns the path. Empty input raises a
one-line :class:`~genomic_ulmfit.errors.InputError`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from genomic_ulmfit.errors import InputError
from genomic_ulmfit.utils import atomic_path

_DPI = 120


def _new_figure(width: float, height: float, ncols: int = 1):
    """A Figure on the Agg canvas and its axes (a list of ``ncols`` axes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _save(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically; returns the path."""
    path = Path(path)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI)
    return path


def plot_roc_pr(curves: Mapping[str, tuple[Any, Any]], path: str | os.PathLike, title: str = "") -> Path:
    """ROC (left) and precision-recall (right) curves, one line per model.

    Parameters
    ----------
    curves : dict name -> (y_true, y_score)
        0/1 labels and scores, each of shape (n,), per model (n may differ between models).
    path : str or Path
        Output PNG.
    title : str, default ""

    The legend gives each model's AUROC / AUPRC; dashed lines show chance (the diagonal and the
    positive fraction).
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    from genomic_ulmfit.evaluation.metrics import auroc, average_precision, undefined_reason

    if not curves:
        raise InputError(f"{path}: no curves to plot; pass at least one model's (y_true, y_score)")
    fig, (ax_roc, ax_pr) = _new_figure(11, 4.8, ncols=2)
    base_rates = []
    for name, (y_true, y_score) in curves.items():
        y = np.asarray(y_true)
        s = np.asarray(y_score, dtype=np.float64)
        reason = undefined_reason(y) if y.size else "no predictions"
        if reason:
            raise InputError(f"{path}: cannot draw curves for {name!r}: {reason}")
        roc, ap = auroc(y, s), average_precision(y, s)
        fpr, tpr, _ = roc_curve(y, s)
        prec, rec, _ = precision_recall_curve(y, s)
        ax_roc.plot(fpr, tpr, lw=1.5, label=f"{name} (AUROC {roc:.3f})")
        ax_pr.plot(rec, prec, lw=1.5, drawstyle="steps-post", label=f"{name} (AUPRC {ap:.3f})")
        base_rates.append(float(y.mean()))
    ax_roc.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax_pr.axhline(float(np.mean(base_rates)), ls="--", color="grey", lw=1, label="chance")
    ax_roc.set(
        xlabel="False positive rate", ylabel="True positive rate", title="ROC", xlim=(0, 1), ylim=(0, 1.01)
    )
    ax_pr.set(xlabel="Recall", ylabel="Precision", title="Precision-recall", xlim=(0, 1), ylim=(0, 1.01))
    for ax in (ax_roc, ax_pr):
        ax.legend(loc="lower right" if ax is ax_roc else "lower left", fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_heatmap(matrix, path: str | os.PathLike, title: str = "", fmt: str = ".3f") -> Path:
    """Annotated heatmap, e.g. the cross-species AUROC matrix (rows: train, columns: test species).

    Parameters
    ----------
    matrix : pandas.DataFrame, shape (n_train, n_test)
        Numeric cells; NaN cells are drawn blank and annotated "n/a".
    path : str or Path
    title : str, default ""
    fmt : str, default ".3f"
        Format spec of the cell annotations.
    """
    if matrix is None or matrix.size == 0:
        raise InputError(f"{path}: empty matrix; nothing to plot")
    values = matrix.to_numpy(dtype=np.float64)
    n_rows, n_cols = values.shape
    fig, (ax,) = _new_figure(max(4.0, 1.0 + 0.9 * n_cols), max(3.0, 1.0 + 0.6 * n_rows))
    finite = values[np.isfinite(values)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmin == vmax:
        vmin, vmax = vmin - 0.05, vmax + 0.05
    im = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    mid = (vmin + vmax) / 2
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            text = "n/a" if not math.isfinite(v) else format(v, fmt)
            color = "black" if math.isfinite(v) and v > mid else "white"
            ax.text(
                j, i, text, ha="center", va="center", fontsize=8, color=color if math.isfinite(v) else "grey"
            )
    ax.set_xticks(range(n_cols), [str(c) for c in matrix.columns], rotation=45, ha="right")
    ax.set_yticks(range(n_rows), [str(r) for r in matrix.index])
    ax.set_xlabel(str(matrix.columns.name or "tested on").replace("_", " "))
    ax.set_ylabel(str(matrix.index.name or "trained on").replace("_", " "))
    if title:
        ax.set_title(title)
    return _save(fig, path)


def _read_records(source: str | os.PathLike | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Records from a JSON-lines file or an iterable of dicts."""
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.is_file():
            raise InputError(f"{p}: metrics file not found; give the metrics.jsonl written by training")
        records = []
        for lineno, line in enumerate(p.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{p}: line {lineno}: not valid JSON ({exc.msg})") from None
        return records
    return [dict(r) for r in source]


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def plot_training_curves(
    metrics: str | os.PathLike | Iterable[Mapping[str, Any]], path: str | os.PathLike, title: str = ""
) -> Path:
    """Loss (left) and accuracy (right) per epoch, with training stages marked.

    Parameters
    ----------
    metrics : path of a JSON-lines file, or list of dict
        One record per epoch. Every numeric key ending in ``loss`` (``train_loss``,
        ``valid_loss``...) is drawn on the loss panel and every key containing ``acc`` on the
        accuracy panel. An optional ``stage`` key (e.g. ``"lm"``, ``"finetune"``, ``"unfreeze-2"``)
        is marked with a dashed line where it changes. Records without any loss are skipped.
        The x axis counts epochs over all stages.
    path : str or Path
    title : str, default ""
    """
    records = [
        r for r in _read_records(metrics) if any(k.endswith("loss") and _numeric(v) for k, v in r.items())
    ]
    if not records:
        raise InputError(f"{path}: no epoch records with a loss value; nothing to plot")
    loss_keys = _keys(records, lambda k: k.endswith("loss"))
    acc_keys = _keys(records, lambda k: "acc" in k)
    fig, axes = _new_figure(11 if acc_keys else 6, 4.2, ncols=2 if acc_keys else 1)
    x = np.arange(1, len(records) + 1)
    for ax, keys, ylabel in zip(
        axes, (loss_keys, acc_keys), ("loss", "accuracy"), strict=False
    ):  # 1 or 2 panels
        for key in keys:
            y = np.array([r[key] if _numeric(r.get(key)) else np.nan for r in records], dtype=np.float64)
            ax.plot(x, y, marker="o", ms=3, lw=1.3, label=key)
        _mark_stages(ax, records)
        ax.set(xlabel="epoch (all stages)", ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _keys(records: list[dict[str, Any]], keep) -> list[str]:
    """Numeric keys of ``records`` accepted by ``keep``, in first-seen order."""
    out: list[str] = []
    for r in records:
        for k, v in r.items():
            if k not in out and keep(k) and _numeric(v):
                out.append(k)
    return out


def _mark_stages(ax, records: list[dict[str, Any]]) -> None:
    """Dashed vertical line and label where the ``stage`` field changes."""
    prev = object()
    for i, r in enumerate(records, start=1):
        stage = r.get("stage")
        if stage is not None and stage != prev:
            ax.axvline(i - 0.5, ls="--", color="grey", lw=0.8)
            ax.annotate(
                str(stage),
                (i - 0.4, 1.0),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                color="dimgrey",
                va="top",
                rotation=90,
            )
        prev = stage


def axis_floor(table, columns: list[str]) -> float:
    """The y-axis floor of a bar plot: a tenth step below the lowest value of ``columns`` (whiskers
    included, so no interval is cut off), at least 0.05 below it, never below 0."""
    values = table[columns].to_numpy(dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    low = float(finite.min()) if finite.size else 0.0
    return max(0.0, math.floor((low - 0.05) * 10) / 10)


def plot_bar_ci(table, path: str | os.PathLike, title: str = "", metric: str = "auroc") -> Path:
    """Grouped bars (species groups, one bar per model) with confidence-interval whiskers.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``model``, ``species``, ``metric`` (default ``auroc``) and the CI bounds as
        ``lo``/``hi`` or ``<metric>_lo``/``<metric>_hi`` (optional; no whiskers without them).
    path : str or Path
    title : str, default ""
    metric : str, default "auroc"
    """
    if table is None or len(table) == 0:
        raise InputError(f"{path}: empty results table; nothing to plot")
    missing = {"model", "species", metric} - set(table.columns)
    if missing:
        raise InputError(f"{path}: results table lacks column(s) {', '.join(sorted(missing))}")
    lo_col = next((c for c in ("lo", f"{metric}_lo") if c in table.columns), None)
    hi_col = next((c for c in ("hi", f"{metric}_hi") if c in table.columns), None)
    models = list(dict.fromkeys(table["model"].astype(str)))
    species = list(dict.fromkeys(table["species"].astype(str)))
    fig, (ax,) = _new_figure(max(5.0, 1.5 + 0.35 * len(models) * len(species)), 4.2)
    width = 0.8 / len(models)
    x = np.arange(len(species))
    for m_i, model in enumerate(models):
        sub = table[table["model"].astype(str) == model].assign(species=lambda d: d["species"].astype(str))
        sub = sub.drop_duplicates("species").set_index("species").reindex(species)
        y = sub[metric].to_numpy(dtype=np.float64)
        err = None
        if lo_col and hi_col:
            lo = sub[lo_col].to_numpy(dtype=np.float64)
            hi = sub[hi_col].to_numpy(dtype=np.float64)
            err = np.nan_to_num(np.vstack([y - lo, hi - y]).clip(min=0))
        ax.bar(x - 0.4 + width * (m_i + 0.5), y, width, yerr=err, capsize=3, label=model)
    floor = axis_floor(table, [metric, *([lo_col] if lo_col else [])])
    ax.set_ylim(floor, 1.0)
    if metric == "auroc" and floor <= 0.5:
        ax.axhline(0.5, color="0.4", linestyle=":", linewidth=1, label="chance (0.5)")
    ax.set_xticks(x, species, rotation=30 if len(species) > 4 else 0)
    ax.set_ylabel(metric.upper() if metric.startswith("au") else metric)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title)
    return _save(fig, path)
