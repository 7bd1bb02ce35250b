"""Training runs: row selection, on-the-fly splits, species filters, run.json; the classifier LR finder."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from genomic_ulmfit.data.dataset import Source, dataset_hash, import_sources, save_dataset
from genomic_ulmfit.data.simulate import simulate_cohn_layout
from genomic_ulmfit.data.split import assign_splits
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.base import load_model
from genomic_ulmfit.models.estimators import CNNModel
from genomic_ulmfit.models.kmer import KmerLogistic
from genomic_ulmfit.training.lr_tools import classifier_lr_find
from genomic_ulmfit.training.runs import train_model, training_overlap, training_rows


@pytest.fixture(scope="module")
def unsplit(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    simulate_cohn_layout(out, n_species=2, per_class=60, write_genomes=False, seed=0)
    return import_sources([Source("cohn", str(out))])


@pytest.fixture(scope="module")
def split(unsplit):
    return assign_splits(unsplit, seed=0)


def kmer() -> KmerLogistic:
    return KmerLogistic(k_max=4, Cs=(1e-3, 1e-2), cv=2)


def test_training_rows_uses_the_dataset_splits(split):
    train, valid = training_rows(split)
    assert (train["split"] == "train").all() and (valid["split"] == "valid").all()
    assert len(train) == (split["split"] == "train").sum() and len(valid) == (split["split"] == "valid").sum()


def test_training_rows_splits_an_unsplit_dataset_on_the_fly(unsplit):
    assert (unsplit["split"] == "").all()
    train, valid = training_rows(unsplit, seed=0)
    assert 0.75 * len(unsplit) <= len(train) <= 0.85 * len(unsplit)
    assert 0.05 * len(unsplit) <= len(valid) <= 0.15 * len(unsplit)
    assert not set(train["id"]) & set(valid["id"])
    again, _ = training_rows(unsplit, seed=0)
    assert again["id"].tolist() == train["id"].tolist()
    other, _ = training_rows(unsplit, seed=1)
    assert other["id"].tolist() != train["id"].tolist()


def test_training_rows_species_filter_and_errors(split):
    train, valid = training_rows(split, ["SimMouse"])
    assert set(train["species"]) == {"SimMouse"} and set(valid["species"]) == {"SimMouse"}
    with pytest.raises(InputError, match="species SimYeti not in the dataset"):
        training_rows(split, ["SimYeti"])
    with pytest.raises(InputError, match="no training rows"):
        training_rows(split.assign(split="test"))
    train, valid = training_rows(split.assign(split=np.where(split["split"] == "valid", "test", split["split"])))
    assert valid is None and len(train)


def test_train_model_writes_model_and_run_record(split, tmp_path):
    path = tmp_path / "data.parquet"
    save_dataset(split, path)
    model = train_model(kmer(), split, tmp_path / "run", dataset_path=path, seed=3, progress=False)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["kind"] == "kmer" and run["params"] == model.get_params() and run["seed"] == 3
    n_train, n_valid = (split["split"] == "train").sum(), (split["split"] == "valid").sum()
    assert run["data"]["train_rows"] == n_train and run["data"]["valid_rows"] == n_valid
    assert run["data"]["rows"] == n_train + n_valid  # test rows are never used
    used = split[split["split"].isin(["train", "valid"])]
    assert run["data"]["hash"] == dataset_hash(used)
    assert run["data"]["dataset"] == str(path)
    assert run["data"]["species"] == ["SimHuman", "SimMouse"]
    assert {"python", "torch", "numpy", "scikit-learn"} <= set(run["versions"])
    assert run["seconds"] >= 0 and "created" in run and "git_commit" in run
    back = load_model(tmp_path / "run")
    test = split[split["split"] == "test"]["sequence"].tolist()
    np.testing.assert_allclose(back.predict_proba(test), model.predict_proba(test), rtol=0, atol=1e-12)


def test_training_overlap_from_any_folder_and_through_an_ensemble(split, tmp_path, monkeypatch):
    from genomic_ulmfit.models.ensemble import EnsembleModel

    save_dataset(split, tmp_path / "data.parquet")
    monkeypatch.chdir(tmp_path)
    for name, species in (("human", ["SimHuman"]), ("mouse", ["SimMouse"])):
        train_model(kmer(), split, tmp_path / name, species=species, dataset_path="data.parquet", progress=False)
    monkeypatch.chdir(tmp_path / "human")  # the run names its dataset by a path that holds from here too
    seqs = split.loc[split["species"] == "SimMouse", "sequence"].tolist()
    n_mouse = int(split.loc[split["species"] == "SimMouse", "split"].isin(["train", "valid"]).sum())
    assert training_overlap(tmp_path / "mouse", seqs) == (n_mouse, str(tmp_path / "data.parquet"))
    assert training_overlap(tmp_path / "human", seqs)[0] == 0
    valid = split[split["split"] == "valid"]
    ens = EnsembleModel([str(tmp_path / "human"), str(tmp_path / "mouse")]).fit(
        valid["sequence"].tolist(), valid["label"].to_numpy())
    ens.save(tmp_path / "ens")
    assert training_overlap(tmp_path / "ens", seqs) == (n_mouse, str(tmp_path / "data.parquet"))


def test_train_model_on_one_species(split, tmp_path):
    train_model(kmer(), split, tmp_path, species=["SimHuman"], progress=False)
    run = json.loads((tmp_path / "run.json").read_text())
    human = split[split["species"] == "SimHuman"]
    assert run["data"]["species"] == ["SimHuman"]
    assert run["data"]["train_rows"] == (human["split"] == "train").sum()
    assert run["data"]["hash"] == dataset_hash(human[human["split"].isin(["train", "valid"])])


def test_train_model_on_an_unsplit_dataset(unsplit, tmp_path):
    train_model(kmer(), unsplit, tmp_path, seed=0, progress=False)
    run = json.loads((tmp_path / "run.json").read_text())
    train, valid = training_rows(unsplit, seed=0)
    assert (run["data"]["train_rows"], run["data"]["valid_rows"]) == (len(train), len(valid))
    assert run["data"]["rows"] < len(unsplit)


def test_train_model_resume_of_a_finished_neural_run_keeps_its_weights(split, tmp_path):
    def cnn():
        return CNNModel("modern", preset="tiny", epochs=2, config={"channels": 8, "dilations": [2]})

    first = train_model(cnn(), split, tmp_path, progress=False)
    assert (tmp_path / "checkpoints").is_dir() and (tmp_path / "metrics.jsonl").is_file()
    test = split[split["split"] == "test"]["sequence"].tolist()
    again = train_model(cnn(), split, tmp_path, progress=False, resume=True)
    np.testing.assert_array_equal(again.predict_proba(test), first.predict_proba(test))
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["kind"] == "cnn" and run["params"]["epochs"] == 2
    # another seed, schedule or data would continue the run as if it were the same one: refused
    other_seed = CNNModel("modern", preset="tiny", epochs=2, config={"channels": 8, "dilations": [2]}, seed=3)
    with pytest.raises(ConfigError, match=r"started with params.seed = 0, this one has 3"):
        train_model(other_seed, split, tmp_path, progress=False, resume=True)
    with pytest.raises(ConfigError, match=r"epochs = 2, this one has 3"):
        train_model(CNNModel("modern", preset="tiny", epochs=3, config={"channels": 8, "dilations": [2]}), split,
                    tmp_path, progress=False, resume=True)
    with pytest.raises(ConfigError, match=r"other data \(data_sha256 differs\)"):
        train_model(cnn(), split.iloc[2:], tmp_path, progress=False, resume=True)
    assert json.loads((tmp_path / "run.json").read_text()) == run  # the run's record is left as it was


def test_classifier_lr_find(split, tmp_path):
    path = tmp_path / "data.parquet"
    save_dataset(split, path)
    png = tmp_path / "lr.png"
    lr = classifier_lr_find(path, png, model="ulmfit", preset="tiny", num_it=8, species=["SimHuman"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert math.isfinite(lr) and 1e-7 <= lr <= 10
    with pytest.raises(ConfigError, match="lr-find works for ulmfit and cnn"):
        classifier_lr_find(path, png, model="kmer")
    with pytest.raises(ConfigError, match="not 'ulmfit:noft'"):
        classifier_lr_find(path, png, model="ulmfit:noft")
    with pytest.raises(ConfigError, match="ending in .png"):
        classifier_lr_find(path, tmp_path / "lr.txt", model="cnn")


def test_classifier_lr_find_takes_a_cnn_variant_and_warns_of_a_degenerate_sweep(split, tmp_path):
    path = tmp_path / "data.parquet"
    save_dataset(split, path)
    said = []
    lr = classifier_lr_find(path, tmp_path / "cnn.png", model="cnn:cohn", preset="tiny", num_it=3,
                            species=["SimHuman"], warn=said.append)
    assert (tmp_path / "cnn.png").exists() and lr > 0
    assert len(said) == 1 and "the smoothed loss never fell" in said[0]  # 3 steps at 1e-7..: nothing learnt
    said.clear()
    classifier_lr_find(path, tmp_path / "u.png", model="ulmfit", preset="tiny", num_it=3, species=["SimHuman"],
                       warn=said.append)
    assert "no --encoder" in said[0]
    with pytest.raises(ConfigError, match="huge"):
        classifier_lr_find(path, tmp_path / "x.png", model="cnn:huge", preset="tiny")


def test_length_note_says_the_cohn_cnn_crops_or_pads_to_its_one_length(split, tmp_path):
    from genomic_ulmfit.training.runs import length_note

    train_model(CNNModel("cohn", preset="tiny", epochs=1), split, tmp_path / "cohn", progress=False)
    train_model(CNNModel("modern", preset="tiny", epochs=1, config={"channels": 8, "dilations": [2]}), split,
                tmp_path / "modern", progress=False)
    width = int(json.loads((tmp_path / "cohn" / "model.json").read_text())["config"]["seq_len"])
    assert length_note(tmp_path / "cohn", width, "the windows") is None
    note = length_note(tmp_path / "cohn", width + 100, "the windows")
    assert note and f"reads exactly {width:,} bp" in note and "central" in note
    assert length_note(tmp_path / "cohn", width - 100, "the windows") is None  # padded, as in training
    assert length_note(tmp_path / "modern", width + 100, "the windows") is None  # within 2x: any length is read
