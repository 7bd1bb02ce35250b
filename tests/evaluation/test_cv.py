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
from genomic_ulmfit.models.kmer import KmerLogistic


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
    positives = oof.groupby("fold")["label"].sum()
    assert folds.set_index("fold")["n_positive"].to_dict() == positives.to_dict()  # test positives per fold
    saved = json.loads((tmp_path / "cv.json").read_text())
    assert saved["folds"] == 3 and saved["models"] == ["kmer"]
    assert saved["species"] == sorted(sim_df["species"].unique()) and saved["rows"] == len(sim_df)


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


@pytest.fixture
def fitted_into(monkeypatch):
    """The run directory names (fold0, …) that training went into, in order."""
    import genomic_ulmfit.training.runs as runs

    names, real = [], runs.train_model

    def counting(model, df, out_dir, **kw):
        names.append(out_dir.name)
        return real(model, df, out_dir, **kw)

    monkeypatch.setattr(runs, "train_model", counting)
    return names


def test_resume_refits_only_unfinished_or_changed_fits(sim_df, tmp_path, fitted_into):
    from genomic_ulmfit.evaluation.benchmark import FIT_RECORD

    kw = dict(models=["kmer"], folds=3, ensemble=False, progress=False, log=lambda *_: None, n_boot=50)
    _, first = cross_validate(sim_df, tmp_path, **kw)
    assert fitted_into == ["fold0", "fold1", "fold2"]
    (tmp_path / "runs" / "kmer" / "fold1" / FIT_RECORD).unlink()  # as if stopped before fold 1's fit finished
    _, resumed = cross_validate(sim_df, tmp_path, resume=True, **kw)
    assert fitted_into[3:] == ["fold1"]  # folds 0 and 2 were loaded, not refitted
    pd.testing.assert_frame_equal(first, resumed)
    cross_validate(sim_df, tmp_path, resume=True, preset="tiny", **kw)  # other settings: nothing matches
    assert fitted_into[4:] == ["fold0", "fold1", "fold2"]
    cross_validate(sim_df, tmp_path, **kw)  # no resume: refit everything
    assert fitted_into[7:] == ["fold0", "fold1", "fold2"]


def test_fit_key_tells_fits_apart(sim_df, tmp_path, monkeypatch):
    from genomic_ulmfit.data.split import assign_splits
    from genomic_ulmfit.evaluation.benchmark import fit_key

    df = assign_splits(sim_df, seed=0)
    df = df[df["split"] != "test"]
    base = fit_key("kmer", df, preset="cpu", lm_dir=None, finetune=True, seed=0)
    assert base == fit_key("kmer", df.copy(), preset="cpu", lm_dir=None, finetune=True, seed=0)
    moved = df.copy()
    moved.loc[moved.index[0], "split"] = "valid" if moved["split"].iloc[0] == "train" else "train"
    assert fit_key("kmer", moved, preset="cpu", lm_dir=None, finetune=True, seed=0)["train"] != base["train"]
    assert fit_key("kmer", df, preset="cpu", lm_dir=None, finetune=True, seed=1) != base
    assert fit_key("cnn", df, preset="cpu", lm_dir=None, finetune=True, seed=0) != base
    monkeypatch.setenv("GENOMIC_ULMFIT_AMP", "bf16")
    bf16 = fit_key("cnn", df, preset="cpu", lm_dir=None, finetune=True, seed=0)
    monkeypatch.setenv("GENOMIC_ULMFIT_AMP", "off")
    assert fit_key("cnn", df, preset="cpu", lm_dir=None, finetune=True, seed=0) != bf16  # an fp32 fit is another fit
    assert fit_key("kmer", df, preset="cpu", lm_dir=None, finetune=True, seed=0) == base  # no torch, no precision
    # the copy-number settings count only for the :copies variants (fits made before they existed stay reusable)
    assert not any(k.startswith(("copies_", "motifs")) for k in base["params"])
    motifs = fit_key("kmer:motifs", df, preset="cpu", lm_dir=None, finetune=True, seed=0)["params"]
    assert motifs["motifs"] == "jaspar" and motifs["motifs_weight"] == KmerLogistic().motifs_weight
    # a motif file counts by its contents, like the genome below
    (tmp_path / "m.jaspar").write_text(">MA1.1 X\nA [ 1 2 ]\nC [ 3 4 ]\nG [ 5 6 ]\nT [ 7 0 ]\n")
    by_file = fit_key("kmer:motifs", df, preset="cpu", lm_dir=None, finetune=True, seed=0,
                      motifs=str(tmp_path / "m.jaspar"))["params"]["motifs"]
    assert len(by_file) == 64 and str(tmp_path) not in by_file
    (tmp_path / "m.jaspar").write_text(">MA1.1 X\nA [ 1 2 ]\nC [ 3 4 ]\nG [ 5 6 ]\nT [ 7 1 ]\n")
    assert fit_key("kmer:motifs", df, preset="cpu", lm_dir=None, finetune=True, seed=0,
                   motifs=str(tmp_path / "m.jaspar"))["params"]["motifs"] != by_file
    assert not any(k.startswith("copies_") for k in fit_key("gkm", df, preset="cpu", lm_dir=None, finetune=True,
                                                              seed=0)["params"])
    # ... and the genome counts by its contents: the same file elsewhere is the same fit, a changed one is not
    (tmp_path / "a.fa").write_text(">a\nACGTACGTACGTACGTACGTAAAC\n")
    (tmp_path / "b.fa").write_text((tmp_path / "a.fa").read_text())
    a = fit_key("kmer:copies", df, preset="cpu", lm_dir=None, finetune=True, seed=0, copies_genome=[tmp_path / "a.fa"])
    b = fit_key("kmer:copies", df, preset="cpu", lm_dir=None, finetune=True, seed=0, copies_genome=[tmp_path / "b.fa"])
    assert a == b and len(a["params"]["copies_genome"]) == 64 and a["params"]["copies_k"] == 20
    (tmp_path / "b.fa").write_text(">a\nACGTACGTACGTACGTACGTAAAG\n")
    assert fit_key("kmer:copies", df, preset="cpu", lm_dir=None, finetune=True, seed=0,
                   copies_genome=[tmp_path / "b.fa"]) != a
    # ULMFiT on mixed lengths: fits from before its random-order batches (length-grouped) are not reused
    assert "batches" not in fit_key("ulmfit", df, preset="cpu", lm_dir=None, finetune=True, seed=0)  # one length
    mixed = df.copy()
    mixed.loc[mixed.index[0], "sequence"] = mixed["sequence"].iloc[0][:-10]
    assert fit_key("ulmfit", mixed, preset="cpu", lm_dir=None, finetune=True, seed=0)["batches"] == "random"
    assert "batches" not in fit_key("cnn", mixed, preset="cpu", lm_dir=None, finetune=True, seed=0)
    lm = tmp_path / "lm"
    lm.mkdir()
    (lm / "lm.json").write_text('{"run": 1}')
    with_lm = fit_key("ulmfit", df, preset="cpu", lm_dir=lm, finetune=True, seed=0)
    (lm / "lm.json").write_text('{"run": 2}')  # an LM rebuilt in the same directory
    assert fit_key("ulmfit", df, preset="cpu", lm_dir=lm, finetune=True, seed=0) != with_lm
    # what a model does not use does not count: adding --lm to a CV keeps its k-mer and CNN fits
    assert fit_key("kmer", df, preset="cpu", lm_dir=lm, finetune=False, seed=0) == base
    assert (fit_key("cnn:modern", df, preset="cpu", lm_dir=lm, finetune=True, seed=0)
            == fit_key("cnn:modern", df, preset="cpu", lm_dir=None, finetune=True, seed=0))
    assert fit_key("ulmfit:noft", df, preset="cpu", lm_dir=lm, finetune=False, seed=0)["lm"] == str(lm.resolve())
    assert (fit_key("ulmfit:noft", df, preset="cpu", lm_dir=lm, finetune=False, seed=0)
            == fit_key("ulmfit:noft", df, preset="cpu", lm_dir=lm, finetune=True, seed=0))  # never fine-tuned
    for own_lm in ("ulmfit:nolm", "ulmfit:scratch"):  # neither reads the genome LM: adding --lm keeps their fits
        assert (fit_key(own_lm, df, preset="cpu", lm_dir=lm, finetune=True, seed=0)
                == fit_key(own_lm, df, preset="cpu", lm_dir=None, finetune=True, seed=0))
    scratch = fit_key("ulmfit:scratch", df, preset="cpu", lm_dir=None, finetune=True, seed=0)
    assert scratch["lm"] is None and scratch["finetune"] is None  # its own LM, always trained
    assert fit_key("ulmfit", df, preset="cpu", lm_dir=None, finetune=True, seed=0)["finetune"] is True
    assert json.loads(json.dumps(with_lm)) == with_lm


def test_fit_key_holds_the_defaults_of_models_no_preset_configures(sim_df, monkeypatch):
    from genomic_ulmfit.data.split import assign_splits
    from genomic_ulmfit.evaluation.benchmark import _current_key, fit_key
    from genomic_ulmfit.models.gkm import GkmSVM

    df = assign_splits(sim_df, seed=0)
    key = fit_key("gkm", df, preset="cpu", lm_dir=None, finetune=True, seed=3)
    assert key["params"]["Cs"] == list(GkmSVM().Cs) and key["params"]["random_state"] == 3
    assert "params" not in fit_key("cnn:modern", df, preset="cpu", lm_dir=None, finetune=True, seed=3)
    defaults = list(GkmSVM.__init__.__defaults__)  # l, k, half_life, Cs, ...
    defaults[3] = (1.0, 8.0)  # another default C grid: the old fit must not be reused
    monkeypatch.setattr(GkmSVM.__init__, "__defaults__", tuple(defaults))
    wider = fit_key("gkm", df, preset="cpu", lm_dir=None, finetune=True, seed=3)
    assert wider["params"]["Cs"] == [1.0, 8.0] and wider != key
    # a record from before the key held the parameters: refitted, not reused
    assert _current_key({k: v for k, v in key.items() if k != "params"}) != key


def test_only_folds_split_the_work_and_resume_gathers_it(sim_df, tmp_path, fitted_into):
    from genomic_ulmfit.errors import ConfigError

    kw = dict(models=["kmer"], folds=3, ensemble=False, progress=False, log=lambda *_: None, n_boot=50)
    summary, oof = cross_validate(sim_df, tmp_path / "split", only_folds=[2], **kw)  # as a second process would
    assert fitted_into == ["fold2"] and set(oof["fold"]) == {2} and summary["folds"].tolist() == [1]
    assert not list((tmp_path / "split").glob("cv_*"))  # a partial run writes no summary
    cross_validate(sim_df, tmp_path / "split", only_folds=[1, 0, 1], **kw)
    assert fitted_into[1:] == ["fold0", "fold1"]
    gathered, oof_all = cross_validate(sim_df, tmp_path / "split", resume=True, **kw)
    assert len(fitted_into) == 3  # every fold was loaded
    assert (tmp_path / "split" / "cv_summary.tsv").exists()
    whole, oof_whole = cross_validate(sim_df, tmp_path / "whole", **kw)
    pd.testing.assert_frame_equal(gathered.drop(columns="seconds_per_fold"), whole.drop(columns="seconds_per_fold"))
    pd.testing.assert_frame_equal(oof_all, oof_whole)
    with pytest.raises(ConfigError, match=r"fold\(s\) 4 not in 1..3"):
        cross_validate(sim_df, tmp_path / "bad", only_folds=[0, 3], **kw)



def test_resume_reuses_the_saved_fold_scores_of_the_same_fit_only(sim_df, tmp_path, monkeypatch):
    from genomic_ulmfit.evaluation.cv import FOLD_SCORES
    from genomic_ulmfit.models.kmer import KmerLogistic

    kw = dict(models=["kmer", "cnn"], folds=3, preset="tiny", progress=False, log=lambda *_: None, n_boot=50)
    summary, first = cross_validate(sim_df, tmp_path, only_folds=[0, 1, 2], **kw)  # as separate processes would
    saved = tmp_path / "runs" / "kmer" / "fold1" / FOLD_SCORES
    old = saved.read_text()
    scored, real = [], KmerLogistic.predict_proba
    monkeypatch.setattr(KmerLogistic, "predict_proba", lambda self, s, **k: scored.append(len(s)) or real(self, s, **k))
    gathered, oof = cross_validate(sim_df, tmp_path, resume=True, **kw)
    assert scored == []  # every fold's test scores, and valid scores for the ensemble, were read back
    assert set(oof["model"]) == {"kmer", "cnn", "ensemble"}
    pd.testing.assert_frame_equal(first, oof)
    pd.testing.assert_frame_equal(summary, gathered)
    cross_validate(sim_df, tmp_path, only_folds=[1], **kw)  # fold 1 refitted (no resume) and scored afresh
    assert len(scored) == 2
    saved.write_text(old)  # as if the new fit's scores had never been saved: the old ones are stale
    cross_validate(sim_df, tmp_path, resume=True, **kw)
    assert len(scored) == 4  # fold 1 (test and valid) scored again, the other folds read back


def test_cv_refuses_folds_without_both_classes(sim_df, tmp_path):
    # 6 positives in 10 folds: four folds had no AUROC, and the summary averaged the other six.
    from genomic_ulmfit.errors import ConfigError

    one = sim_df[sim_df["species"] == sim_df["species"].iloc[0]]
    small = pd.concat([one[one["label"] == 0].head(40), one[one["label"] == 1].head(6)])
    with pytest.raises(ConfigError, match="46 sequences in 10 folds: 4 of 10 folds hold one class only"):
        cross_validate(small, tmp_path, models=["kmer"], folds=10, ensemble=False, progress=False,
                       log=lambda *_: None)
    assert not (tmp_path / "runs").exists()


def test_a_negative_seed_is_one_clear_error(sim_df):
    from genomic_ulmfit.data.split import assign_splits
    from genomic_ulmfit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"seed \(--seed\) -1 is not allowed"):
        assign_splits(sim_df, seed=-1)
