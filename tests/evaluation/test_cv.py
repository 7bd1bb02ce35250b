"""Cross-validation driver and the holdout recipe, on small simulated data with the k-mer model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genomic_ulmfit.data.dataset import Source, import_sources, load_dataset
from genomic_ulmfit.data.simulate import simulate_cohn_layout
from genomic_ulmfit.evaluation.cv import cross_validate, fold_frame
from genomic_ulmfit.evaluation.metrics import auroc


@pytest.fixture(scope="module")
def sim_df(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    simulate_cohn_layout(d, n_species=1, per_class=120, length=300, seed=3, write_genomes=False)
    return import_sources([Source("cohn", str(d))])


def test_fold_frame_makes_disjoint_train_valid_test(sim_df):
    from genomic_ulmfit.data.split import assign_folds

    df = assign_folds(sim_df.drop(columns=["split"]), k=4, seed=0)
    part = fold_frame(df, 2, seed=0)
    assert set(part["split"]) == {"train", "valid", "test"}
    assert (part.loc[part["split"] == "test", "fold"] == 2).all()
    assert (part.loc[part["split"] != "test", "fold"] != 2).all()
    valid = part[part["split"] == "valid"]
    assert 0.05 < len(valid) / (part["split"] != "test").sum() < 0.15
    assert valid["label"].nunique() == 2


def test_cross_validate_kmer_oof_scores_match_metrics(sim_df, tmp_path):
    summary, oof = cross_validate(sim_df, tmp_path, models=["kmer"], folds=3, ensemble=False, progress=False,
                                  log=lambda *_: None, n_boot=200)
    # Every sequence is scored exactly once, out of fold.
    assert len(oof) == len(sim_df) and oof["id"].is_unique
    assert set(oof["fold"]) == {0, 1, 2}
    row = summary.iloc[0]
    assert row["model"] == "kmer" and row["folds"] == 3
    assert row["oof_auroc"] == pytest.approx(auroc(oof["label"], oof["score"]), abs=1e-4)
    assert row["oof_auroc_lo"] <= row["oof_auroc"] <= row["oof_auroc_hi"]
    assert row["auroc_mean"] > 0.6  # the simulated task is learnable
    folds = pd.read_csv(tmp_path / "cv_folds.tsv", sep="\t")
    assert row["auroc_mean"] == pytest.approx(folds["auroc"].mean(), abs=1e-4)
    saved = json.loads((tmp_path / "cv.json").read_text())
    assert saved["folds"] == 3 and saved["models"] == ["kmer"]


def test_holdout_writes_scores_and_metrics(sim_df, tmp_path):
    from genomic_ulmfit.evaluation.holdout import run_holdout

    rng = np.random.default_rng(0)
    idx = rng.permutation(len(sim_df))
    train, test = sim_df.iloc[idx[:180]], sim_df.iloc[idx[180:]]
    train[["sequence", "label"]].to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    test[["id", "sequence", "label"]].to_csv(tmp_path / "test.tsv", sep="\t", index=False)
    m = run_holdout(tmp_path / "train.tsv", tmp_path / "test.tsv", tmp_path / "out", models=["kmer"],
                    progress=False, log=lambda *_: None, n_boot=200)
    scores = pd.read_csv(tmp_path / "out" / "scores.tsv", sep="\t")
    assert list(scores.columns) == ["id", "score", "label"]
    assert list(scores["id"]) == list(test["id"])
    assert m["test_metrics"]["kmer"]["auroc"] == pytest.approx(auroc(scores["label"], scores["score"]), abs=1e-6)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["n_train"] == 180
    split = load_dataset(tmp_path / "out" / "train_split.parquet")
    assert len(split) == 180 and set(split["split"]) == {"train", "valid"}
    assert (split["split"] == "valid").sum() == pytest.approx(18, abs=2)
