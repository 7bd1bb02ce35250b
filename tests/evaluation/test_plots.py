"""Every plot writes a real, non-trivial PNG atomically and refuses empty input with one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genomic_ulmfit.errors import InputError
from genomic_ulmfit.evaluation.plots import (
    axis_floor,
    plot_bar_ci,
    plot_heatmap,
    plot_roc_pr,
    plot_training_curves,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path, min_bytes: int = 8000) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > min_bytes
    assert not list(path.parent.glob(".*.tmp")), "temporary file left behind"


def _scores(n: int, seed: int, signal: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, rng.normal(size=n) + signal * y


def test_roc_pr(tmp_path):
    path = plot_roc_pr(
        {"kmer": _scores(200, 0, 1.0), "cnn": _scores(150, 1, 2.0)}, tmp_path / "roc.png", "Human"
    )
    assert path == tmp_path / "roc.png"
    _assert_png(path)


def test_roc_pr_rejects_empty_and_one_class(tmp_path):
    with pytest.raises(InputError, match="no curves"):
        plot_roc_pr({}, tmp_path / "x.png")
    with pytest.raises(InputError, match="'m'.*no negatives"):
        plot_roc_pr({"m": (np.ones(5), np.arange(5.0))}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_heatmap_with_nan_cell(tmp_path):
    species = ["Human", "Mouse", "Dog"]
    m = pd.DataFrame(
        np.array([[0.8, 0.7, 0.75], [0.72, 0.85, np.nan], [0.7, 0.71, 0.79]]), index=species, columns=species
    )
    m.index.name, m.columns.name = "train", "test"
    _assert_png(plot_heatmap(m, tmp_path / "cross.png", "Cross-species AUROC"))


def test_heatmap_empty(tmp_path):
    with pytest.raises(InputError, match="empty matrix"):
        plot_heatmap(pd.DataFrame(), tmp_path / "h.png")


def test_training_curves_from_jsonl_with_stages(tmp_path):
    records = [
        {"stage": "lm", "epoch": 0, "train_loss": 1.3, "valid_loss": 1.35, "valid_accuracy": 0.31},
        {"stage": "lm", "epoch": 1, "train_loss": 1.2, "valid_loss": 1.3, "valid_accuracy": 0.33},
        {"event": "checkpoint", "path": "x"},  # no loss: skipped
        {"stage": "classifier", "epoch": 0, "train_loss": 0.6, "valid_loss": 0.55, "valid_accuracy": 0.71},
        {"stage": "classifier", "epoch": 1, "train_loss": 0.5, "valid_loss": 0.52, "valid_accuracy": 0.74},
    ]
    src = tmp_path / "metrics.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    _assert_png(plot_training_curves(src, tmp_path / "curves.png", "training"))
    _assert_png(plot_training_curves(records[:2], tmp_path / "curves2.png"))


def test_training_curves_errors(tmp_path):
    with pytest.raises(InputError, match="no epoch records"):
        plot_training_curves([], tmp_path / "c.png")
    with pytest.raises(InputError, match="not found"):
        plot_training_curves(tmp_path / "missing.jsonl", tmp_path / "c.png")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"train_loss": 1.0}\n{oops\n')
    with pytest.raises(InputError, match="line 2"):
        plot_training_curves(bad, tmp_path / "c.png")


def test_bar_ci(tmp_path):
    table = pd.DataFrame(
        {
            "model": ["kmer", "kmer", "ulmfit", "ulmfit"],
            "species": ["Human", "Mouse", "Human", "Mouse"],
            "auroc": [0.79, 0.8, 0.82, np.nan],
            "auroc_lo": [0.77, 0.78, 0.8, np.nan],
            "auroc_hi": [0.81, 0.82, 0.84, np.nan],
        }
    )
    _assert_png(plot_bar_ci(table, tmp_path / "bars.png", "AUROC"))
    short = table.rename(columns={"auroc_lo": "lo", "auroc_hi": "hi"})
    _assert_png(plot_bar_ci(short, tmp_path / "bars2.png"))


def test_bar_ci_errors(tmp_path):
    with pytest.raises(InputError, match="empty"):
        plot_bar_ci(pd.DataFrame(columns=["model", "species", "auroc"]), tmp_path / "b.png")
    with pytest.raises(InputError, match="species"):
        plot_bar_ci(pd.DataFrame({"model": ["a"], "auroc": [0.5]}), tmp_path / "b.png")


def test_axis_floor_keeps_the_lowest_whisker_in_view():
    t = pd.DataFrame({"auroc": [0.9, 0.55], "lo": [0.85, 0.318]})
    assert axis_floor(t, ["auroc"]) == 0.5  # points only: this floor would cut the 0.318 whisker
    assert axis_floor(t, ["auroc", "lo"]) == 0.2
    assert axis_floor(pd.DataFrame({"auroc": [0.02], "lo": [np.nan]}), ["auroc", "lo"]) == 0.0
