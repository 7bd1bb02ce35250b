"""Loading saved models: damaged or edited run directories are one clear error, never a traceback
or silently wrong scores; batch sizes are checked."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.base import load_model
from genomic_ulmfit.models.ensemble import EnsembleModel
from genomic_ulmfit.models.estimators import CNNModel
from genomic_ulmfit.models.kmer import KmerLogistic


def _data(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    gc = rng.uniform(0.3, 0.7, n)
    seqs = ["".join(rng.choice(list("ACGT"), size=60, p=[(1 - g) / 2, g / 2, g / 2, (1 - g) / 2])) for g in gc]
    return seqs, (gc > 0.5).astype(int)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    seqs, y = _data()
    for i, k_max in enumerate((2, 3)):
        KmerLogistic(k_max=k_max, cv=2).fit(seqs, y).save(root / f"kmer{i}")
    CNNModel("modern", preset="tiny", epochs=1, seed=0).fit(seqs, y).save(root / "cnn")
    EnsembleModel.from_models({str(root / "kmer0"): load_model(root / "kmer0"),
                               str(root / "kmer1"): load_model(root / "kmer1")}, seqs[:40]).save(root / "ens")
    return root, seqs


def _copy(runs, name, tmp_path):
    root, _ = runs
    shutil.copytree(root, tmp_path / "runs")
    return tmp_path / "runs" / name


def _edit_json(directory, change):
    meta = json.loads((directory / "model.json").read_text())
    meta = change(meta)
    (directory / "model.json").write_text(json.dumps(meta))


def test_a_negative_batch_size_is_refused_not_scored_as_the_empty_buffer(runs):
    root, seqs = runs
    for name in ("kmer0", "cnn", "ens"):
        model = load_model(root / name)
        with pytest.raises(ConfigError, match=r"batch size \(--batch-size\) -1 is not allowed"):
            model.predict_proba(seqs[:5], batch_size=-1)
        assert np.allclose(model.predict_proba(seqs[:5], batch_size=1), model.predict_proba(seqs[:5]), atol=1e-6)


@pytest.mark.parametrize("name,weights", [("kmer0", "weights.safetensors"), ("cnn", "model.safetensors")])
def test_truncated_or_nan_weights_are_one_line(runs, tmp_path, name, weights):
    d = _copy(runs, name, tmp_path)
    path = d / weights
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match="not a readable safetensors file|do not fit the model"):
        load_model(d)
    path.write_bytes(good)
    arrays = load_file(str(path))
    key = sorted(k for k, v in arrays.items() if v.dtype.kind == "f")[0]
    arrays[key] = np.full_like(arrays[key], np.nan)
    save_file(arrays, str(path))
    with pytest.raises(InputError, match=f"weight {key!r} holds NaN"):
        load_model(d)


def test_cnn_weights_of_another_shape_are_one_line(runs, tmp_path):
    d = _copy(runs, "cnn", tmp_path)
    arrays = load_file(str(d / "model.safetensors"))
    key = next(iter(arrays))
    arrays[key] = np.zeros((3, 3), dtype=np.float32)
    save_file(arrays, str(d / "model.safetensors"))
    with pytest.raises(InputError, match="do not fit the model its model.json describes"):
        load_model(d)


def test_edited_model_json_is_one_line(runs, tmp_path):
    d = _copy(runs, "kmer0", tmp_path)
    (d / "model.json").write_text("[]")
    with pytest.raises(InputError, match="holds a list, not a model record"):
        load_model(d)
    d = tmp_path / "runs" / "kmer1"
    _edit_json(d, lambda m: {**m, "kind": "cnn"})  # a kmer run relabelled: CNN's load found no 'config'
    with pytest.raises(InputError, match="cannot rebuild the saved cnn model"):
        load_model(d)
    cnn = tmp_path / "runs" / "cnn"
    _edit_json(cnn, lambda m: {k: v for k, v in m.items() if k != "config"})
    with pytest.raises(InputError, match="cannot rebuild the saved cnn model .*KeyError"):
        load_model(cnn)


def test_kmer_arrays_of_the_wrong_shape_are_refused(runs, tmp_path):
    # A (1,) mean broadcast over every feature: scores off by up to 0.67 with no error.
    d = _copy(runs, "kmer0", tmp_path)
    arrays = load_file(str(d / "weights.safetensors"))
    arrays["mean"] = arrays["mean"][:1].copy()
    save_file(arrays, str(d / "weights.safetensors"))
    with pytest.raises(InputError, match=r"'mean' is float64 of shape \(1,\)"):
        load_model(d)


@pytest.mark.parametrize("weights", [[1.0], [0.0, 0.0], [1.0, -1.0]])
def test_a_saved_ensemble_with_impossible_weights_is_refused(runs, tmp_path, weights):
    d = _copy(runs, "ens", tmp_path)
    _edit_json(d, lambda m: {**m, "weights_": weights})
    with pytest.raises(InputError, match="its member weights do not fit its 2 members"):
        load_model(d)
