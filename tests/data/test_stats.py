"""Statistics: composition, AUROC, the GC-only floor with learned direction, rendering."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from genomic_ulmfit.data.dataset import records_to_frame
from genomic_ulmfit.data.readers import Record
from genomic_ulmfit.data.sequences import gc_content
from genomic_ulmfit.data.stats import auroc, composition, dataset_stats, gc_auroc, render_stats


def test_composition_matches_reference():
    seqs = ["ACGT", "GGGG", "NNNN", "ACNN", "A", "GCGCNAT"]
    comp = composition(seqs, batch=4)
    np.testing.assert_array_equal(comp["length"], [4, 4, 4, 4, 1, 7])
    np.testing.assert_allclose(comp["gc"], gc_content(seqs), equal_nan=True)
    np.testing.assert_allclose(comp["n_frac"], [0, 0, 1, 0.5, 0, 1 / 7])


def test_auroc_against_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y, 1)  # ties on purpose
    assert auroc(s, y) == pytest.approx(roc_auc_score(y, s))
    assert auroc(s, np.zeros(300, int)) is None


def test_gc_auroc_direction_learned_on_train():
    # Enhancers are GC-poor here: the learned direction is "lower GC", scored on test.
    gc = np.array([0.2, 0.3, 0.6, 0.7, 0.25, 0.65, 0.35, 0.55])
    y = np.array([1, 1, 0, 0, 1, 0, 1, 0])
    split = np.array(["train"] * 4 + ["test"] * 4)
    out = gc_auroc(gc, y, split)
    assert out["direction"] == "lower GC = enhancer" and out["evaluated_on"] == "test"
    assert out["auroc"] == pytest.approx(1.0) and out["n"] == 4
    # The test half flips the relation: the train direction is kept, so the AUROC is 0.
    flipped = gc_auroc(gc, np.array([1, 1, 0, 0, 0, 1, 0, 1]), split)
    assert flipped["auroc"] == pytest.approx(0.0)
    unsplit = gc_auroc(gc, y)
    assert unsplit["evaluated_on"].startswith("all") and unsplit["auroc"] == pytest.approx(1.0)


def test_dataset_stats_json_and_render():
    rng = np.random.default_rng(1)
    recs = []
    for sp in ("Human", "Dog"):
        for i in range(60):
            lab = i % 2
            p_gc = 0.6 if lab else 0.4
            seq = "".join(rng.choice(list("GCAT"), p=[p_gc / 2] * 2 + [(1 - p_gc) / 2] * 2, size=100))
            recs.append(Record(f"{sp}{i}", seq, lab, sp, "f"))
    recs.append(Record("gap", "N" * 50, 0, "Dog", "f"))
    df = records_to_frame(recs)
    stats = dataset_stats(df)
    json.dumps(stats)
    assert set(stats["species"]) == set(stats["gc_auroc"]) == {"Human", "Dog"}
    human = stats["species"]["Human"]
    assert human["n"] == 60 and human["positives"] == 30
    assert human["gc_mean"]["1"] > human["gc_mean"]["0"]
    assert human["gc_auroc"]["auroc"] > 0.8 and human["gc_auroc"]["direction"] == "higher GC = enhancer"
    assert stats["species"]["Dog"]["all_n"] == 1 and stats["overall"]["length"] == {"min": 50, "median": 100.0, "max": 100}
    df["split"] = np.where(np.arange(len(df)) % 5 == 0, "test", "train")
    split_stats = dataset_stats(df)
    assert split_stats["overall"]["gc_auroc"]["evaluated_on"] == "test"
    assert split_stats["overall"]["splits"]["test"]["0"] + split_stats["overall"]["splits"]["test"]["1"] == 25
    buf = io.StringIO()
    render_stats(split_stats, Console(file=buf, width=140))
    text = buf.getvalue()
    assert "Human" in text and "GC AUROC" in text and "composition floor" in text and "only N" in text
