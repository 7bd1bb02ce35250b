"""GkmSvm wrapper around gkmsvm-lite: learns a planted motif, round-trips, clear errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.base import MODEL_REGISTRY, load_model
from genomic_ulmfit.models.gkmsvm import GkmSvm, one_hot
from toy import planted_motif as planted


def test_one_hot():
    x = one_hot(["ACGTN", "aaccg"])
    assert x.shape == (2, 4, 5) and x.dtype == np.float32
    assert x[0].argmax(0)[:4].tolist() == [0, 1, 2, 3] and x[0, :, 4].sum() == 0
    assert x[1].argmax(0).tolist() == [0, 0, 1, 1, 2]


def test_missing_package_is_a_one_line_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gkmsvm", None)  # makes `import gkmsvm` raise ImportError
    seqs, y = planted(10)
    with pytest.raises(ConfigError, match=r"pip install genomic-ulmfit\[gkmsvm\]") as exc:
        GkmSvm().fit(seqs, y)
    assert "\n" not in str(exc.value)
    assert MODEL_REGISTRY["gkmsvm"] is GkmSvm


def test_input_and_config_errors():
    pytest.importorskip("gkmsvm")
    seqs, y = planted(10)
    with pytest.raises(InputError, match="different lengths.*centre-crop"):
        GkmSvm().fit([*seqs[:-1], seqs[-1][:90]], y)
    with pytest.raises(InputError, match="shorter than l=11"):
        GkmSvm().fit([s[:10] for s in seqs], y)
    with pytest.raises(ConfigError, match="k <= l"):
        GkmSvm(l=5, k=7).fit(seqs, y)
    with pytest.raises(ConfigError, match="kernel"):
        GkmSvm(kernel="linear").fit(seqs, y)
    with pytest.raises(ConfigError, match="'weighted_rbf' is not supported.*does not fit in memory"):
        GkmSvm(kernel="weighted_rbf").fit(seqs, y)
    with pytest.raises(ConfigError, match="'rbf' is not supported.*unnormalised"):
        GkmSvm(kernel="rbf").fit(seqs, y)
    with pytest.raises(InputError, match="not fitted"):
        GkmSvm().predict_proba(seqs)


@pytest.fixture(scope="module")
def fitted() -> tuple[GkmSvm, list[str], np.ndarray]:
    pytest.importorskip("gkmsvm")
    seqs, y = planted(160, seed=1)
    val, yv = planted(40, seed=3)
    model = GkmSvm(n_jobs=1).fit(seqs, y, val, yv, progress=False)
    test, yt = planted(80, seed=2)
    return model, test, yt


def test_learns_planted_motif(fitted):
    model, test, yt = fitted
    p = model.predict_proba(test)
    assert p.shape == (80,) and p.dtype == np.float64 and ((p >= 0) & (p <= 1)).all()
    assert roc_auc_score(yt, p) > 0.8
    assert model.platt_source_ == "validation" and model.platt_[0] > 0  # larger decision -> more likely


def test_variable_length_prediction_and_batches(fitted):
    model, test, _ = fitted
    mixed = [s if i % 2 else s[:80] for i, s in enumerate(test)]
    together = model.decision_function(mixed, batch_size=16)
    alone = np.array([model.decision_function([s])[0] for s in mixed[:6]])
    np.testing.assert_allclose(together[:6], alone, rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="sequence 2 has 5 bp"):
        model.decision_function([test[0], "ACGTA"])


def test_save_load_round_trip(fitted, tmp_path):
    model, test, _ = fitted
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "weights.safetensors"]
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["kind"] == "gkmsvm" and meta["kernel_params"]["L"] == 11 and meta["kernel_params"]["d"] == 3
    loaded = GkmSvm.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))
    assert loaded.get_params() == model.get_params() and loaded.platt_ == model.platt_
    assert isinstance(load_model(tmp_path), GkmSvm)
