"""Dataset statistics: counts, lengths, composition, and the GC-content AUROC floor.

The GC-only AUROC tells how well G+C content alone separates enhancers from negatives in each
species. A classifier is only interesting by how much it beats that composition floor. When the
table is split, the direction (higher or lower GC in enhancers) is learned on ``train`` and the
AUROC is measured on ``test`` (or ``valid`` when there is no test split); otherwise the best
direction over all rows is taken, which is optimistic and marked as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

_IS_GC = np.zeros(256, dtype=np.uint8)
_IS_GC[[ord("G"), ord("C"), ord("g"), ord("c")]] = 1
_IS_N = np.zeros(256, dtype=np.uint8)
_IS_N[[ord("N"), ord("n")]] = 1


def composition(sequences: Sequence[str], batch: int = 50_000) -> dict[str, np.ndarray]:
    """Length, GC fraction (of non-N bases) and N fraction of every sequence, vectorized.

    Parameters
    ----------
    sequences : sequence of str, length n
    batch : int, default 50,000
        Sequences joined and counted at a time.

    Returns
    -------
    dict
        ``length`` int64 (n,), ``gc`` float64 (n,) (NaN for all-N), ``n_frac`` float64 (n,).
    """
    n = len(sequences)
    length = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=n)
    gc = np.zeros(n, dtype=np.int64)
    nn = np.zeros(n, dtype=np.int64)
    for a in range(0, n, batch):
        chunk = sequences[a : a + batch]
        lens = length[a : a + len(chunk)]
        buf = np.frombuffer("".join(chunk).encode("ascii"), dtype=np.uint8)
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        nonempty = lens > 0
        if len(buf):
            gc_cum = np.concatenate([[0], np.cumsum(_IS_GC[buf], dtype=np.int64)])
            n_cum = np.concatenate([[0], np.cumsum(_IS_N[buf], dtype=np.int64)])
            ends = starts + lens
            gc[a : a + len(chunk)] = np.where(nonempty, gc_cum[ends] - gc_cum[starts], 0)
            nn[a : a + len(chunk)] = np.where(nonempty, n_cum[ends] - n_cum[starts], 0)
    acgt = length - nn
    with np.errstate(invalid="ignore", divide="ignore"):
        gc_frac = np.where(acgt > 0, gc / np.maximum(acgt, 1), np.nan)
        n_frac = np.where(length > 0, nn / np.maximum(length, 1), 0.0)
    return {"length": length, "gc": gc_frac, "n_frac": n_frac}


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney with average ranks for ties); None if one class.

    Parameters
    ----------
    scores : ndarray of float, shape (n,)
        Higher means "more likely positive"; NaN rows are dropped.
    labels : ndarray of int, shape (n,)
        0/1.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    ok = ~np.isnan(scores) & (labels >= 0)
    scores, labels = scores[ok], labels[ok]
    n1 = int((labels == 1).sum())
    n0 = int((labels == 0).sum())
    if n1 == 0 or n0 == 0:
        return None
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[labels == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def gc_auroc(gc: np.ndarray, labels: np.ndarray, split: np.ndarray | None = None) -> dict[str, Any]:
    """GC-content-only AUROC with the direction learned on train when the data is split.

    Parameters
    ----------
    gc : ndarray of float, shape (n,)
    labels : ndarray of int, shape (n,)
    split : ndarray of str, shape (n,), or None

    Returns
    -------
    dict
        ``auroc`` (float or None), ``direction`` (``"higher GC = enhancer"`` or ``"lower GC =
        enhancer"``), ``evaluated_on`` (``"test"``, ``"valid"`` or ``"all (best direction,
        optimistic)"``), ``n`` rows evaluated.
    """
    split = np.asarray(split if split is not None else [""] * len(gc), dtype=object)
    train = split == "train"
    held = next((name for name in ("test", "valid") if (split == name).any()), None)
    if train.any() and held is not None:
        a_train = auroc(gc[train], labels[train])
        if a_train is not None:
            sign = 1.0 if a_train >= 0.5 else -1.0
            ev = split == held
            a = auroc(sign * gc[ev], labels[ev])
            return {
                "auroc": a,
                "direction": "higher GC = enhancer" if sign > 0 else "lower GC = enhancer",
                "evaluated_on": held,
                "n": int(ev.sum()),
            }
    a = auroc(gc, labels)
    if a is None:
        return {"auroc": None, "direction": None, "evaluated_on": "n/a (one class)", "n": int(len(gc))}
    return {
        "auroc": max(a, 1.0 - a),
        "direction": "higher GC = enhancer" if a >= 0.5 else "lower GC = enhancer",
        "evaluated_on": "all (best direction, optimistic)",
        "n": int(len(gc)),
    }


def _summary(comp: dict[str, np.ndarray], labels: np.ndarray, split: np.ndarray) -> dict[str, Any]:
    length = comp["length"]
    gc = comp["gc"]
    out: dict[str, Any] = {
        "n": int(len(labels)),
        "positives": int((labels == 1).sum()),
        "negatives": int((labels == 0).sum()),
        "length": {
            "min": int(length.min()) if len(length) else 0,
            "median": float(np.median(length)) if len(length) else 0.0,
            "max": int(length.max()) if len(length) else 0,
        },
        "gc_mean": {
            str(c): (float(np.nanmean(gc[labels == c])) if np.any((labels == c) & ~np.isnan(gc)) else None)
            for c in (0, 1)
        },
        "n_fraction": float(comp["n_frac"] @ length / max(1, length.sum())) if len(length) else 0.0,
        "all_n": int((comp["n_frac"] == 1).sum()),
        "gc_auroc": gc_auroc(gc, labels, split),
    }
    splits: dict[str, dict[str, int]] = {}
    for name in sorted(set(split.tolist())):
        m = split == name
        splits[name or "unsplit"] = {"0": int((labels[m] == 0).sum()), "1": int((labels[m] == 1).sum())}
    out["splits"] = splits
    return out


def dataset_stats(df: pd.DataFrame) -> dict[str, Any]:
    """Statistics of a dataset table, JSON-able.

    Returns
    -------
    dict
        ``{"overall": summary, "species": {name: summary}, "gc_auroc": {name: floor}}`` where each
        summary has ``n``, ``positives``, ``negatives``, ``length`` {min, median, max}, ``gc_mean``
        {"0", "1"}, ``n_fraction`` (N bases / all bases), ``all_n`` (sequences made only of N),
        ``gc_auroc`` (see :func:`gc_auroc`) and ``splits`` {split: {"0", "1"}}; the top-level
        ``gc_auroc`` repeats each species' GC floor.
    """
    seqs = df["sequence"].astype(object).tolist()
    comp = composition(seqs)
    labels = df["label"].to_numpy().astype(np.int64)
    split = df["split"].astype(str).to_numpy(dtype=object) if "split" in df else np.array([""] * len(df), object)
    species = df["species"].astype(str).to_numpy(dtype=object)
    out: dict[str, Any] = {"overall": _summary(comp, labels, split), "species": {}}
    for sp in sorted(set(species.tolist())):
        m = species == sp
        sub = {k: v[m] for k, v in comp.items()}
        out["species"][sp] = _summary(sub, labels[m], split[m])
    out["gc_auroc"] = {sp: s["gc_auroc"] for sp, s in out["species"].items()}
    return out


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, spec)


def render_stats(stats: dict[str, Any], console=None) -> None:
    """Print the statistics as rich tables (species rows, then an overall row).

    Parameters
    ----------
    stats : dict
        Output of :func:`dataset_stats`.
    console : rich.console.Console or None
        Where to print (default: a new stdout console).
    """
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="Dataset", caption=(
        "GC AUROC: how well G+C content alone separates the classes (composition floor); "
        "* = best direction over all rows (optimistic), else direction from train, scored on held-out rows."
    ))
    for col in ("species", "rows", "pos", "neg", "length min/med/max", "GC pos", "GC neg", "N %", "GC AUROC"):
        table.add_column(col, justify="left" if col == "species" else "right")
    rows = [*stats["species"].items(), ("all", stats["overall"])]
    for name, s in rows:
        g = s["gc_auroc"]
        star = "*" if g.get("evaluated_on", "").startswith("all") else f" ({g.get('evaluated_on')})"
        auc = "-" if g["auroc"] is None else f"{g['auroc']:.3f}{star}"
        ln = s["length"]
        table.add_row(
            str(name), f"{s['n']:,}", f"{s['positives']:,}", f"{s['negatives']:,}",
            f"{ln['min']}/{ln['median']:g}/{ln['max']}",
            _fmt(s["gc_mean"]["1"]), _fmt(s["gc_mean"]["0"]), _fmt(100 * s["n_fraction"], ".2f"), auc,
            end_section=name == list(stats["species"])[-1],
        )
    console.print(table)
    if stats["overall"]["all_n"]:
        console.print(
            f"warning: {stats['overall']['all_n']:,} sequences are only N (assembly gaps?); "
            "they carry no information, consider removing them", style="yellow", markup=False,
        )
    splits = stats["overall"]["splits"]
    if set(splits) != {"unsplit"}:
        st = Table(title="Splits (rows: negatives / positives)")
        st.add_column("species")
        names = [s for s in ("train", "valid", "test", "unsplit") if s in splits]
        for nm in names:
            st.add_column(nm, justify="right")
        for name, s in rows:
            st.add_row(str(name), *[
                f"{s['splits'].get(nm, {}).get('0', 0):,} / {s['splits'].get(nm, {}).get('1', 0):,}" for nm in names
            ])
        console.print(st)
