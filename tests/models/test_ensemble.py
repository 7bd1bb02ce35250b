"""EnsembleModel: standardised-logit averaging of fitted members."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.base import SequenceModel, load_model
from genomic_ulmfit.models.ensemble import EnsembleModel, logit


class Fixed(SequenceModel):
    """A member whose P(enhancer) is a fixed function of GC content (no training)."""

    kind = "fixed-test"

    def __init__(self, scale: float, shift: float = 0.0):
        self.scale, self.shift = scale, shift

    def fit(self, sequences, labels, valid_sequences=None, valid_labels=None, *, out_dir=None, progress=True):
        return self

    def predict_proba(self, sequences, *, batch_size=None):
        gc = np.array([(s.count("G") + s.count("C")) / len(s) for s in sequences])
        return 1 / (1 + np.exp(-(self.scale * (gc - 0.5) + self.shift)))

    def save(self, directory):
        raise NotImplementedError

    @classmethod
    def load(cls, directory):
        raise NotImplementedError


def _seqs(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), size=50, p=[q, 0.5 - q, 0.5 - q, q])) for q in rng.uniform(0.1, 0.4, n)]


def test_logit_is_inverse_sigmoid():
    p = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(1 / (1 + np.exp(-logit(p))), p)
    assert np.isfinite(logit(np.array([0.0, 1.0]))).all()


def test_members_are_standardised_so_a_loud_member_does_not_dominate():
    calib = _seqs(200, 1)
    quiet, loud = Fixed(1.0), Fixed(10.0, shift=3.0)  # same ranking, very different calibration
    ens = EnsembleModel.from_models({"a": quiet, "b": loud}, calib)
    z = ens.member_logits(calib)
    np.testing.assert_allclose(z.mean(axis=1), 0.0, atol=1e-9)
    np.testing.assert_allclose(z.std(axis=1), 1.0, atol=1e-9)
    # Both members rank identically, so the standardised logits agree and the ensemble keeps the ranking.
    test = _seqs(50, 2)
    p = ens.predict_proba(test)
    order = np.argsort(quiet.predict_proba(test))
    assert (np.diff(p[order]) >= -1e-12).all()
    np.testing.assert_allclose(ens.member_logits(test)[0], ens.member_logits(test)[1], atol=1e-6)


def test_an_ensemble_built_from_member_scores_equals_one_built_from_the_members():
    calib, test = _seqs(120, 5), _seqs(30, 6)
    a, b = Fixed(4.0), Fixed(-1.0, shift=1.0)
    y = (np.array([s.count("G") + s.count("C") for s in calib]) > 25).astype(int)
    ens = EnsembleModel.from_models({"a": a, "b": b}, calib, y)
    scored = EnsembleModel.from_scores(["a", "b"], [a.predict_proba(calib), b.predict_proba(calib)], y)
    assert scored.weights_ == ens.weights_ == [1.0, 0.0]  # b ranks backwards: pruned on the labels
    np.testing.assert_allclose(scored.combine([a.predict_proba(test), b.predict_proba(test)]),
                               ens.predict_proba(test), rtol=1e-12)
    with pytest.raises(ConfigError, match="2 members"):
        scored.combine([a.predict_proba(test)])
    with pytest.raises(ConfigError, match="calibration needs"):
        EnsembleModel.from_scores(["a", "b"], [a.predict_proba(calib)])


def test_refitting_an_ensemble_chooses_its_weights_again(tmp_path):
    calib = _seqs(200, 8)
    gc = np.array([(s.count("G") + s.count("C")) / len(s) for s in calib])
    y = (gc > np.median(gc)).astype(int)
    ens = EnsembleModel.from_models({"a": Fixed(4.0), "b": Fixed(-4.0)}, calib, y)
    assert ens.weights is None and ens.weights_ == [1.0, 0.0]
    ens._calibrate(calib, 1 - y)  # what fit() does with new labels
    assert ens.weights_ == [0.0, 1.0]  # the learned weights never overwrite the (unset) parameter
    assert ens.get_params()["weights"] is None
    with pytest.raises(ConfigError, match="not fitted"):
        EnsembleModel(["a", "b"]).predict_proba(calib)
    with pytest.raises(ConfigError, match="not fitted"):
        EnsembleModel(["a", "b"]).save(tmp_path)
    with pytest.raises(ConfigError, match="member 'a' is not a saved run directory"):
        ens.save(tmp_path)
    with pytest.raises(InputError, match="got one string"):
        ens.predict_proba("ACGTACGT")


def test_weights_shift_the_ensemble_towards_a_member():
    calib, test = _seqs(100, 3), _seqs(20, 4)
    a, b = Fixed(5.0), Fixed(-5.0)  # opposite rankings
    only_a = EnsembleModel.from_models({"a": a, "b": b}, calib, weights=[1.0, 0.0]).predict_proba(test)
    assert np.corrcoef(only_a, a.predict_proba(test))[0, 1] > 0.99


def test_save_load_round_trip(tmp_path):
    from genomic_ulmfit.models.kmer import KmerLogistic

    rng = np.random.default_rng(0)
    seqs = _seqs(120, 5)
    y = np.array([int((s.count("G") + s.count("C")) / len(s) > 0.4) for s in seqs])
    y[rng.choice(len(y), 10, replace=False)] ^= 1
    runs = {}
    for i, (kmin, kmax) in enumerate([(1, 2), (1, 3)]):
        m = KmerLogistic(k_min=kmin, k_max=kmax, cv=2).fit(seqs, y)
        d = tmp_path / f"m{i}"
        m.save(d)
        runs[str(d)] = m
    ens = EnsembleModel.from_models(runs, seqs[:40])
    ens.save(tmp_path / "ens")
    back = load_model(tmp_path / "ens")
    assert isinstance(back, EnsembleModel)
    np.testing.assert_allclose(back.predict_proba(seqs[40:]), ens.predict_proba(seqs[40:]), rtol=1e-12)
    # A file written before weights_ existed kept the weights chosen on labels in params["weights"].
    labelled = EnsembleModel.from_models(runs, seqs[:40], y[:40])
    labelled.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "model.json").read_text())
    meta["params"]["weights"] = meta.pop("weights_")
    (tmp_path / "old" / "model.json").write_text(json.dumps(meta))
    old = load_model(tmp_path / "old")
    assert old.weights is None and old.weights_ == labelled.weights_  # chosen, not given: a refit chooses again
    np.testing.assert_allclose(old.predict_proba(seqs[40:]), labelled.predict_proba(seqs[40:]), rtol=1e-12)
    from genomic_ulmfit.predict.scan import training_width

    assert training_width(tmp_path / "ens") is None  # members saved without run.json record no length
    (tmp_path / "m0" / "run.json").write_text(json.dumps({"data": {"length": {"median": 50}}}))
    assert training_width(tmp_path / "ens") == 50  # an ensemble takes its first recorded member's


def _saved_ensemble(tmp_path):
    """Two k-mer LR members in tmp_path/runs/m0, m1 and their ensemble in tmp_path/runs/ens."""
    from genomic_ulmfit.models.kmer import KmerLogistic

    seqs = _seqs(120, 5)
    y = np.array([int((s.count("G") + s.count("C")) / len(s) > 0.4) for s in seqs])
    runs = {}
    for i, k_max in enumerate((2, 3)):
        d = tmp_path / "runs" / f"m{i}"
        KmerLogistic(k_max=k_max, cv=2).fit(seqs, y).save(d)
        runs[str(d)] = load_model(d)
    EnsembleModel.from_models(runs, seqs[:40]).save(tmp_path / "runs" / "ens")
    return seqs, y


def test_a_moved_results_tree_loads_its_own_members_not_what_now_sits_at_the_old_paths(tmp_path):
    from genomic_ulmfit.models.kmer import KmerLogistic
    from genomic_ulmfit.predict.scan import training_width

    seqs, y = _saved_ensemble(tmp_path)
    before = load_model(tmp_path / "runs" / "ens").predict_proba(seqs)
    (tmp_path / "runs").rename(tmp_path / "old")
    moved = load_model(tmp_path / "old" / "ens")
    assert [m.split("/")[-2:] for m in moved.members] == [["old", "m0"], ["old", "m1"]]
    np.testing.assert_allclose(moved.predict_proba(seqs), before, rtol=1e-12)
    (tmp_path / "old" / "m0" / "run.json").write_text(json.dumps({"data": {"length": {"median": 77}}}))
    assert training_width(tmp_path / "old" / "ens") == 77  # the moved member's record
    # other models fitted at the old paths are not taken for the members
    for i in (0, 1):
        KmerLogistic(k_max=1, cv=2).fit(seqs, 1 - y).save(tmp_path / "runs" / f"m{i}")
    np.testing.assert_allclose(load_model(tmp_path / "old" / "ens").predict_proba(seqs), before, rtol=1e-12)


def test_an_ensemble_refuses_a_member_refitted_since_it_was_calibrated(tmp_path):
    from genomic_ulmfit.models.kmer import KmerLogistic

    seqs, y = _saved_ensemble(tmp_path)
    KmerLogistic(k_max=1, cv=2).fit(seqs, y).save(tmp_path / "runs" / "m1")  # refitted in place
    with pytest.raises(InputError, match=r"member .*m1 is not the model this ensemble was calibrated on"):
        load_model(tmp_path / "runs" / "ens")
    import shutil

    shutil.rmtree(tmp_path / "runs" / "m0")
    with pytest.raises(InputError, match=r"member .*m0 is gone"):
        load_model(tmp_path / "runs" / "ens")


def test_an_ensemble_moved_alone_finds_its_members_where_they_were(tmp_path):
    seqs, _ = _saved_ensemble(tmp_path)
    before = load_model(tmp_path / "runs" / "ens").predict_proba(seqs)
    (tmp_path / "runs" / "ens").rename(tmp_path / "ens")  # its relative paths now point nowhere
    back = load_model(tmp_path / "ens")
    assert back.members == [str(tmp_path / "runs" / "m0"), str(tmp_path / "runs" / "m1")]
    np.testing.assert_allclose(back.predict_proba(seqs), before, rtol=1e-12)


def test_a_member_refitted_between_calibration_and_save_is_not_recorded_as_the_member(tmp_path):
    from genomic_ulmfit.models.kmer import KmerLogistic

    seqs, y = _saved_ensemble(tmp_path)
    ens = EnsembleModel([tmp_path / "runs" / "m0", tmp_path / "runs" / "m1"]).fit(seqs[:40])
    KmerLogistic(k_max=1, cv=2).fit(seqs, y).save(tmp_path / "runs" / "m1")  # e.g. by another process
    ens.save(tmp_path / "ens2")
    with pytest.raises(InputError, match="m1 is not the model this ensemble was calibrated on"):
        load_model(tmp_path / "ens2")


def test_a_malformed_member_list_is_one_clear_error(tmp_path):
    _saved_ensemble(tmp_path)
    path = tmp_path / "runs" / "ens" / "model.json"
    meta = json.loads(path.read_text())
    meta["member_files"] = meta["member_files"][:1]
    path.write_text(json.dumps(meta))
    with pytest.raises(InputError, match="member_files is malformed"):
        load_model(tmp_path / "runs" / "ens")


def test_an_ensemble_saved_before_member_fingerprints_loads_its_members_by_path(tmp_path):
    seqs, _ = _saved_ensemble(tmp_path)
    path = tmp_path / "runs" / "ens" / "model.json"
    meta = json.loads(path.read_text())
    del meta["member_files"]
    path.write_text(json.dumps(meta))
    back = load_model(tmp_path / "runs" / "ens")
    assert back.members == [str(tmp_path / "runs" / "m0"), str(tmp_path / "runs" / "m1")]


def test_fit_checks_members_and_weights():
    with pytest.raises(ConfigError, match="at least one member"):
        EnsembleModel([]).fit(["ACGT"])
    with pytest.raises(ConfigError, match="2 weights for 1 members"):
        EnsembleModel(["x"], weights=[1, 2]).fit(["ACGT"])


def test_cli_ensemble_of_saved_runs(tmp_path):
    import pandas as pd

    from genomic_ulmfit.cli import main
    from genomic_ulmfit.data.dataset import save_dataset
    from genomic_ulmfit.data.split import assign_splits

    seqs = _seqs(160, 7)
    y = [int((s.count("G") + s.count("C")) / len(s) > 0.4) for s in seqs]
    df = pd.DataFrame({"id": [f"s{i}" for i in range(len(seqs))], "species": "Human", "label": y,
                       "sequence": seqs, "split": "", "source": "test"})
    df["label"] = df["label"].astype("int8")
    save_dataset(assign_splits(df, seed=0), tmp_path / "d.parquet")
    for k in (2, 3):
        with pytest.raises(SystemExit) as exc:
            main(["train", str(tmp_path / "d.parquet"), "--model", "kmer", "--out", str(tmp_path / f"k{k}")])
        assert exc.value.code == 0
    with pytest.raises(SystemExit) as exc:
        main(["ensemble", str(tmp_path / "k2"), str(tmp_path / "k3"), "--data", str(tmp_path / "d.parquet"),
              "--out", str(tmp_path / "ens")])
    assert exc.value.code == 0
    ens = load_model(tmp_path / "ens")
    assert isinstance(ens, EnsembleModel) and len(ens.models_) == 2
    p = ens.predict_proba(seqs[:5])
    assert p.shape == (5,) and ((p > 0) & (p < 1)).all()


def test_labelled_calibration_selects_weights_and_drops_a_useless_member(tmp_path):
    calib = _seqs(300, 7)
    gc = np.array([(s.count("G") + s.count("C")) / len(s) for s in calib])
    y = (gc > np.median(gc)).astype(int)
    good, noise = Fixed(8.0), Fixed(-8.0)  # the second ranks exactly backwards
    ens = EnsembleModel.from_models({"good": good, "noise": noise}, calib, labels=y)
    assert ens.weights_ == [1.0, 0.0]
    assert ens.selection_["member_auroc"][0] == pytest.approx(1.0)
    assert ens.selection_["member_auroc"][1] == pytest.approx(0.0)
    # Without labels the weights stay equal (and opposite members cancel out).
    assert EnsembleModel.from_models({"good": good, "noise": noise}, calib).weights is None


def test_select_weights_keeps_members_close_to_the_best_with_equal_weights():
    from genomic_ulmfit.models.ensemble import select_weights

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    a = y + rng.normal(0, 1.0, y.size)
    b = y + rng.normal(0, 1.05, y.size)  # slightly worse than a: kept
    weak = y + rng.normal(0, 3.0, y.size)  # far worse: dropped
    weights, record = select_weights(np.stack([a, b, weak]), y)
    assert weights == [1.0, 1.0, 0.0]
    assert record["member_auroc"][0] - record["member_auroc"][2] > 0.1
    assert record["ensemble_auroc"] > max(record["member_auroc"])  # two noisy views average better
    assert select_weights(np.stack([a, b, weak]), y, tol=1.0)[0] == [1.0, 1.0, 1.0]
