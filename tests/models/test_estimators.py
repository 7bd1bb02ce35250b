"""ULMFiT and CNN estimators: learning, persistence, invariances, determinism, errors, the registry."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from genomic_ulmfit.config import AMP_ENV, get_preset
from genomic_ulmfit.data.sequences import revcomp
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models import ensemble as ensemble_module
from genomic_ulmfit.models.base import MODEL_REGISTRY, load_model
from genomic_ulmfit.models.estimators import (
    CNNModel,
    EnsembleModel,
    ULMFiTModel,
    holdout_split,
    model_from_name,
    token_views,
)
from genomic_ulmfit.models.gkm import GkmSVM
from genomic_ulmfit.models.gkmsvm import GkmSvm
from genomic_ulmfit.models.kmer import KmerLogistic
from genomic_ulmfit.tokenize import KmerTokenizer
from genomic_ulmfit.training.lm import finetune_lm

MOTIF = "TGACGTCAGG"


def planted(n: int, length: int = 150, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Random ACGT of ``length``; odd rows (label 1) carry two copies of MOTIF on either strand."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        s = np.array(list("ACGT"))[rng.integers(0, 4, length)]
        if i % 2:
            for _ in range(2):
                at = rng.integers(0, length - len(MOTIF))
                m = MOTIF if rng.random() < 0.5 else revcomp(MOTIF)
                s[at : at + len(MOTIF)] = list(m)
        seqs.append("".join(s))
        labels.append(i % 2)
    return seqs, np.array(labels)


@pytest.fixture(scope="module")
def data():
    tr_s, tr_y = planted(400, seed=1)
    te_s, te_y = planted(200, seed=2)
    return tr_s, tr_y, te_s, te_y


@pytest.fixture(scope="module")
def ulmfit_preset(tmp_path_factory):
    """The tiny preset with a slightly longer classifier schedule, as a preset JSON file."""
    d = get_preset("tiny").to_dict()
    d["name"] = "tiny-test"
    d["classifier"]["stages"] = [
        {"epochs": 2, "lr": 2e-2, "n_groups": 1},
        {"epochs": 4, "lr": [2e-3, 1e-2], "n_groups": 0},
    ]
    d["classifier"]["drop_mult"] = 0.1
    path = tmp_path_factory.mktemp("preset") / "tiny-test.json"
    path.write_text(json.dumps(d))
    return str(path)


def modern(seed: int = 0) -> CNNModel:
    return CNNModel("modern", preset="tiny", epochs=6, seed=seed, config={"channels": 16, "dilations": [2, 4]})


@pytest.fixture(scope="module")
def fitted(data, ulmfit_preset, tmp_path_factory):
    """Four fitted estimators on the planted-motif task (a few seconds in all)."""
    tr_s, tr_y, _, _ = data
    lm_dir = finetune_lm(tr_s, tmp_path_factory.mktemp("lm"), from_dir=None, preset="tiny", progress=False)
    return {
        "cnn-modern": modern().fit(tr_s, tr_y, progress=False),
        "cnn-cohn": CNNModel("cohn", preset="tiny", epochs=25, lr=3e-3, seed=0, valid_frac=0.2,
                             config={"seq_len": 150, "dropout": 0.1}).fit(tr_s, tr_y, progress=False),
        "ulmfit": ULMFiTModel(ulmfit_preset, seed=0).fit(tr_s, tr_y, progress=False),
        "ulmfit-encoder": ULMFiTModel(ulmfit_preset, lm_dir, seed=0).fit(tr_s, tr_y, progress=False),
        "ulmfit-composition": ULMFiTModel(ulmfit_preset, lm_dir, seed=0, composition=True).fit(
            tr_s, tr_y, progress=False
        ),
    }


NAMES = ["cnn-modern", "cnn-cohn", "ulmfit", "ulmfit-encoder", "ulmfit-composition"]


# ----------------------------------------------------------------------------- learning
@pytest.mark.parametrize("name, floor", [("cnn-modern", 0.75), ("cnn-cohn", 0.75), ("ulmfit", 0.8),
                                         ("ulmfit-encoder", 0.8), ("ulmfit-composition", 0.8)])
def test_estimators_learn_the_planted_motif(fitted, data, name, floor):
    _, _, te_s, te_y = data
    p = fitted[name].predict_proba(te_s)
    assert p.shape == (len(te_s),) and p.dtype == np.float64
    assert ((p >= 0) & (p <= 1)).all()
    assert roc_auc_score(te_y, p) > floor


def test_encoder_metadata_is_kept(fitted):
    assert fitted["ulmfit"].encoder_meta_ is None
    meta = fitted["ulmfit-encoder"].encoder_meta_
    assert meta["kind"] == "awd_lstm_lm" and meta["stage"] == "finetune"


# ----------------------------------------------------------------------------- persistence
@pytest.mark.parametrize("name", NAMES)
def test_save_and_load_model_give_identical_predictions(fitted, data, name, tmp_path):
    model = fitted[name]
    model.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["kind"] == model.kind
    back = load_model(tmp_path)
    assert type(back) is type(model)
    assert back.get_params() == model.get_params()
    te_s = data[2]
    np.testing.assert_allclose(back.predict_proba(te_s), model.predict_proba(te_s), rtol=0, atol=1e-6)


def test_load_of_an_incomplete_run_is_an_input_error(fitted, tmp_path):
    fitted["cnn-modern"].save(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(InputError, match="weights file missing"):
        load_model(tmp_path)
    with pytest.raises(InputError, match="nowhere: no such directory; give a run directory written by 'train'"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "lm.json").write_text("{}")
    with pytest.raises(InputError, match="is a language model"):
        load_model(tmp_path / "lm")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no model.json here"):
        load_model(tmp_path / "empty")
    (tmp_path / "model.json").write_text(json.dumps({"kind": "forest"}))
    with pytest.raises(InputError, match="unknown model kind 'forest'"):
        load_model(tmp_path)


# ----------------------------------------------------------------------------- invariances
@pytest.mark.parametrize("name", NAMES)
def test_predictions_are_batch_size_invariant(fitted, data, name):
    te_s = data[2][:40]
    # Mixed lengths: padding differs with the batch composition and must not matter.
    mixed = [s[: 100 + (i * 7) % 51] for i, s in enumerate(te_s)]
    model = fitted[name]
    for seqs in (te_s, mixed):
        ref = model.predict_proba(seqs, batch_size=64)
        for bs in (1, 3, None):
            np.testing.assert_allclose(model.predict_proba(seqs, batch_size=bs), ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["cnn-modern", "ulmfit-encoder"])
def test_bf16_predictions_agree_with_fp32(fitted, data, name, monkeypatch):
    te_s = data[2]
    monkeypatch.setenv(AMP_ENV, "off")
    p32 = fitted[name].predict_proba(te_s)
    monkeypatch.setenv(AMP_ENV, "bf16")
    p16 = fitted[name].predict_proba(te_s)
    assert not np.array_equal(p32, p16)  # the prediction really ran in bf16
    assert np.abs(p32 - p16).max() < 0.05
    assert spearmanr(p32, p16).statistic > 0.99


@pytest.mark.parametrize("name", ["ulmfit", "ulmfit-encoder"])
def test_ulmfit_rc_average_is_strand_symmetric(fitted, data, name):
    model = fitted[name]
    te_s = data[2][:50]
    rc = [revcomp(s) for s in te_s]
    assert model.rc_average
    np.testing.assert_array_equal(model.predict_proba(te_s), model.predict_proba(rc))
    # One strand only: the LSTM reads left to right, so the strands differ.
    model.rc_average = False
    try:
        assert not np.allclose(model.predict_proba(te_s), model.predict_proba(rc), atol=1e-4)
    finally:
        model.rc_average = True


def test_modern_cnn_is_strand_symmetric_and_cohn_is_not(fitted, data):
    te_s = data[2][:50]
    rc = [revcomp(s) for s in te_s]
    m = fitted["cnn-modern"]
    np.testing.assert_allclose(m.predict_proba(te_s), m.predict_proba(rc), rtol=0, atol=1e-6)
    c = fitted["cnn-cohn"]
    assert not np.allclose(c.predict_proba(te_s), c.predict_proba(rc), atol=1e-4)


def test_token_views_cover_both_strands_and_every_frame():
    tok = KmerTokenizer(4, 2)
    seqs = ["ACGTTGCAAC", "GGGATC", "ACGTA"]
    v = token_views(tok, seqs)
    assert v.shape == (3, 4, tok.n_tokens(10))
    for i, s in enumerate(seqs):
        r = revcomp(s)
        expect = [s, r, s[1:] if len(s) > 4 else s, r[1:] if len(s) > 4 else r]
        for j, q in enumerate(expect):
            n = tok.n_tokens(len(q))
            np.testing.assert_array_equal(v[i, j, :n], tok.encode_one(q))
            assert (v[i, j, n:] == tok.pad_id).all()
    # The views of the reverse complements are the same arrays with the strands swapped.
    np.testing.assert_array_equal(token_views(tok, [revcomp(s) for s in seqs])[:, [1, 0, 3, 2]], v)
    assert token_views(tok, seqs, strands=False).shape[1] == 2
    assert token_views(tok, seqs, frames=False).shape[1] == 2
    np.testing.assert_array_equal(token_views(tok, seqs, strands=False, frames=False)[:, 0], v[:, 0])
    assert token_views(KmerTokenizer(3, 1), seqs).shape[1] == 2  # stride 1 has a single frame


# ----------------------------------------------------------------------------- determinism
def _twice(make, data):
    """Predictions of three small fits: ``make(0)`` twice and ``make(1)``."""
    tr_s, tr_y, te_s, _ = data
    return [make(seed).fit(tr_s[:120], tr_y[:120], progress=False).predict_proba(te_s[:50]) for seed in (0, 0, 1)]


def test_cnn_is_deterministic(data):
    a, b, other = _twice(
        lambda seed: CNNModel("modern", preset="tiny", epochs=2, seed=seed, config={"channels": 8, "dilations": [2]}),
        data,
    )
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, other)


def test_ulmfit_is_deterministic(data, ulmfit_preset):
    a, b, other = _twice(lambda seed: ULMFiTModel(ulmfit_preset, seed=seed), data)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, other)


def test_ulmfit_keeps_the_same_epoch_with_or_without_an_out_dir(data, tmp_path):
    # Without out_dir the best epoch used to be sought in the last stage only, with it over all stages.
    # A last stage at a ruinous learning rate puts the run's best epoch in stage 1.
    d = get_preset("tiny").to_dict()
    d["classifier"]["stages"] = [{"epochs": 3, "lr": 2e-2, "n_groups": 1}, {"epochs": 1, "lr": 100.0, "n_groups": 0}]
    d["classifier"]["drop_mult"] = 0.1
    preset = tmp_path / "ruin.json"
    preset.write_text(json.dumps(d))
    tr_s, tr_y, te_s, _ = data
    a = ULMFiTModel(str(preset), seed=0).fit(tr_s, tr_y, progress=False)
    b = ULMFiTModel(str(preset), seed=0).fit(tr_s, tr_y, out_dir=tmp_path / "run", progress=False)
    assert json.loads((tmp_path / "run" / "checkpoints" / "best.json").read_text())["best"]["stage"] == "stage1"
    np.testing.assert_array_equal(a.predict_proba(te_s[:50]), b.predict_proba(te_s[:50]))


def test_fit_writes_checkpoints_and_metrics(data, tmp_path):
    tr_s, tr_y, _, _ = data
    modern().fit(tr_s[:100], tr_y[:100], out_dir=tmp_path, progress=False)
    assert (tmp_path / "checkpoints").is_dir()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 6 and all("valid_auroc" in r for r in records)


# ----------------------------------------------------------------------------- ensemble
def test_the_ensemble_is_the_calibrated_one_whatever_the_import_order():
    assert EnsembleModel is ensemble_module.EnsembleModel
    assert MODEL_REGISTRY["ensemble"] is ensemble_module.EnsembleModel


def test_ensemble_averages_standardised_member_logits(fitted, data, tmp_path):
    te_s = data[2]
    members = {}
    for name in ("cnn-modern", "ulmfit"):
        fitted[name].save(tmp_path / name)
        members[str(tmp_path / name)] = fitted[name]
    calib = data[0][:60]
    ens = EnsembleModel(list(members)).fit(calib)
    z = []
    for m in members.values():
        lz = ensemble_module.logit(m.predict_proba(te_s))
        lc = ensemble_module.logit(m.predict_proba(calib))
        z.append((lz - lc.mean()) / lc.std())
    expected = 1 / (1 + np.exp(-np.mean(z, axis=0)))
    np.testing.assert_allclose(ens.predict_proba(te_s), expected, rtol=0, atol=1e-9)
    assert roc_auc_score(data[3], ens.predict_proba(te_s)) > 0.75
    ens.save(tmp_path / "ens")
    back = load_model(tmp_path / "ens")
    assert isinstance(back, ensemble_module.EnsembleModel)
    np.testing.assert_allclose(back.predict_proba(te_s), ens.predict_proba(te_s), rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------- names and errors
def test_model_from_name():
    u = model_from_name("ulmfit", preset="tiny", encoder="lm/", seed=3)
    assert isinstance(u, ULMFiTModel) and (u.preset, u.encoder, u.seed) == ("tiny", "lm/", 3)
    c = model_from_name("cnn", preset="tiny", arch="cohn", seed=2)
    assert isinstance(c, CNNModel) and c.get_params()["arch"] == "cohn" and c.seed == 2
    assert model_from_name("cnn", preset="tiny").get_params()["arch"] == get_preset("tiny").cnn.arch
    k = model_from_name("kmer", seed=5)
    assert isinstance(k, KmerLogistic) and k.random_state == 5
    assert isinstance(model_from_name("gkmsvm"), GkmSvm)
    g = model_from_name("gkm", seed=4)
    assert isinstance(g, GkmSVM) and g.random_state == 4
    with pytest.raises(ConfigError, match="unknown model 'rnn'"):
        model_from_name("rnn")


def test_model_from_name_reads_the_variants_that_set_the_model_itself():
    assert model_from_name("gkm:linear").gammas == (0.0,)
    assert 0.0 in model_from_name("gkm").gammas and len(model_from_name("gkm").gammas) > 1
    assert model_from_name("cnn:cohn", preset="tiny").get_params()["arch"] == "cohn"
    assert model_from_name("ulmfit:comp", preset="tiny").composition is True
    with pytest.raises(ConfigError, match="'scratch' is not a setting of the model itself.*--encoder"):
        model_from_name("ulmfit:scratch")  # an encoder choice: silently a plain ULMFiT would be wrong
    with pytest.raises(ConfigError, match="two architectures"):
        model_from_name("cnn:modern", arch="cohn")
    with pytest.raises(ConfigError, match="here: gkm:linear"):
        model_from_name("gkm:rbf")
    with pytest.raises(ConfigError, match="unknown model 'rnn:x'"):
        model_from_name("rnn:x")


@pytest.mark.parametrize(
    "labels, match",
    [
        ([0, 1, 2, 1], "label 2"),
        ([0, 1, 0.5, 1], "label 0.5"),
        (["0", "1", "yes", "1"], "label 'yes'"),
        ([0, 1, float("nan"), 1], "label nan"),
        ([0, 1, None, 1], "label None"),
        ([0, 1, 1], "4 sequences but 3 labels"),
        ([1, 1, 1, 1], "needs both classes"),
    ],
)
@pytest.mark.parametrize("make", [lambda: CNNModel(preset="tiny"), lambda: ULMFiTModel("tiny")])
def test_bad_labels_are_input_errors(make, labels, match):
    seqs = planted(4)[0]
    with pytest.raises(InputError, match=match):
        make().fit(seqs, labels, progress=False)


def test_bad_validation_labels_are_input_errors():
    seqs, y = planted(8)
    with pytest.raises(InputError, match="validation data"):
        CNNModel(preset="tiny").fit(seqs, y, seqs[:2], [0, 3], progress=False)


BAD_SEQUENCES = [
    ("ACGTACGTAC", "got one string, not a list"),
    (["ACGTACGT", None], "sequence 2 is None"),
    (["ACGTACGT", float("nan")], r"sequence 2 is nan \(float\)"),
    (["ACGTACGT", "ACGU"], "sequence 2 has 'U' at position 4"),
    (["ACGT XX"], "sequence 1 has ' ' at position 5"),
    (["ACRT"], "sequence 1 has 'R' at position 3.*mask_iupac=True"),
    (["ACGTACGT", ""], "sequence 2 has 0 bp"),
    (pd.DataFrame({"sequence": ["ACGTACGT"]}), r"got a table; pass its sequence column \(df\['sequence'\]\)"),
    ([b"A" * 10_000], r"sequence 1 is b'AAAA[A]{40,60}\.\.\. \(bytes\), not a string"),  # shown cut short
]


@pytest.mark.parametrize("seqs, match", BAD_SEQUENCES)
@pytest.mark.parametrize("name", ["cnn-modern", "cnn-cohn", "ulmfit-encoder", "kmer"])
def test_bad_sequences_are_refused_not_scored(fitted, data, name, seqs, match):
    model = fitted[name] if name in fitted else KmerLogistic(k_max=3).fit(*data[:2])
    with pytest.raises(InputError, match="prediction data: " + match):
        model.predict_proba(seqs)


def test_ulmfit_needs_one_whole_kmer(fitted):
    model = fitted["ulmfit"]
    k = model.tokenizer_.k
    with pytest.raises(InputError, match=f"sequence 2 has {k - 1} bp; this model needs at least {k}"):
        model.predict_proba(["ACGTACGTAA", "A" * (k - 1)])
    assert model.predict_proba(["A" * k, "acgtn"[:k]]).shape == (2,)  # k bases (any case, N) are enough
    with pytest.raises(InputError, match="training data: sequence 1 has 3 bp"):
        ULMFiTModel("tiny").fit(["ACG", "ACGTACGT"], [0, 1], progress=False)


def test_bad_training_sequences_and_missing_validation_labels_are_refused(data):
    tr_s, tr_y, _, _ = data
    for make in (lambda: KmerLogistic(k_max=2), lambda: CNNModel(preset="tiny", epochs=1)):
        with pytest.raises(InputError, match="training data: sequence 3 is None"):
            make().fit([*tr_s[:2], None, *tr_s[3:20]], tr_y[:20], progress=False)
        with pytest.raises(InputError, match="validation data: 5 sequences but no labels"):
            make().fit(tr_s[:20], tr_y[:20], tr_s[20:25], None, progress=False)


def test_too_few_sequences_or_a_one_class_validation_set_are_refused():
    seqs, y = planted(8)
    with pytest.raises(InputError, match="2 sequences are too few to hold out"):
        CNNModel(preset="tiny").fit(seqs[:2], [0, 1], progress=False)
    with pytest.raises(InputError, match="validation data.*both classes"):
        ULMFiTModel("tiny").fit(seqs, y, seqs[:3], [1, 1, 1], progress=False)


def test_string_labels_are_accepted(data):
    tr_s, tr_y, te_s, _ = data
    m = CNNModel("modern", preset="tiny", epochs=1, config={"channels": 8, "dilations": [2]})
    m.fit(tr_s[:64], [str(v) for v in tr_y[:64]], progress=False)
    assert m.predict_proba(te_s[:5]).shape == (5,)


def test_unfitted_models_refuse_to_predict_or_save(tmp_path):
    with pytest.raises(ConfigError, match="not fitted"):
        ULMFiTModel("tiny").predict_proba(["ACGT"])
    with pytest.raises(ConfigError, match="not fitted"):
        CNNModel(preset="tiny").predict_proba(["ACGT"])
    with pytest.raises(ConfigError, match="not fitted"):
        CNNModel(preset="tiny").save(tmp_path)


# ----------------------------------------------------------------------------- holdout split
@pytest.mark.parametrize("seed", [0, 1])
def test_holdout_split_is_stratified_and_seeded(seed):
    y = np.array([0] * 37 + [1] * 13)
    tr, va = holdout_split(y, 0.2, seed)
    assert len(np.intersect1d(tr, va)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, va])), np.arange(50))
    assert (y[va] == 0).sum() == round(0.2 * 37) and (y[va] == 1).sum() == round(0.2 * 13)
    tr2, va2 = holdout_split(y, 0.2, seed)
    np.testing.assert_array_equal(va, va2)
    assert not np.array_equal(holdout_split(y, 0.2, seed + 10)[1], va)
    # A tiny class still gets one validation row; a singleton gets none.
    _, va3 = holdout_split(np.array([0] * 20 + [1, 1]), 0.1, seed)
    assert (np.array([0] * 20 + [1, 1])[va3] == 1).sum() == 1
    _, va4 = holdout_split(np.array([0] * 20 + [1]), 0.1, seed)
    assert 20 not in va4


def test_ulmfit_training_batches_mix_lengths_and_are_cut_to_their_longest_member():
    seqs, y = planted(200, length=300, seed=4)
    model = ULMFiTModel(preset="tiny", seed=0)
    same = model.prepare(seqs, y)
    assert same["train_data"].lengths is None and same["valid_data"].lengths is None  # one length: batches as before
    mixed = [s[: 40 + (i * 37) % 261] for i, s in enumerate(seqs)]
    prep = model.prepare(mixed, y)
    tr, va = prep["train_data"], prep["valid_data"]
    assert tr.lengths is not None and va.lengths is not None
    for data in (tr, va):
        for batch in data.batches(0):
            x = batch["x"].numpy()
            assert x.ndim == 2 and (x[:, -1] != 0).any()  # cut to its longest member, no all-pad column
    # Training batches are random rows, not grouped by length: the head's BatchNorm must see every
    # length in a batch, as it does in eval (grouped batches cost NHLF 0.033 AUROC on a fold).
    for batch in tr.batches(0):
        tokens = (batch["x"] != 0).sum(dim=1)
        assert tokens.max() > 2 * tokens.min()
    rows = np.concatenate([(b["x"] != 0).sum(dim=1).numpy() for b in va.batches(0)])
    assert (np.diff(rows) <= 0).all() and rows[0] > 2 * rows[-1]  # validation (eval mode): longest first


def test_ulmfit_batch_tokens_bounds_the_padded_tokens_of_a_training_batch():
    seqs, y = planted(200, length=300, seed=4)
    mixed = [s[: 40 + (i * 37) % 261] for i, s in enumerate(seqs)]
    free = ULMFiTModel(preset="tiny", seed=0, batch_tokens=None).prepare(mixed, y)["train_data"]
    capped = ULMFiTModel(preset="tiny", seed=0, batch_tokens=2000).prepare(mixed, y)["train_data"]
    assert max(b["x"].numel() for b in free.batches(0)) > 2000  # without a budget the long batch is bigger
    sizes = [b["x"].shape for b in capped.batches(0)]
    assert all(rows * width <= 2000 for rows, width in sizes)
    assert {b["x"].shape[0] for b in free.batches(0)} == {32}
    by_width = sorted(sizes, key=lambda s: s[1])
    assert max(rows for rows, _ in sizes) < 32 and by_width[0][0] > by_width[-1][0]  # long batches hold fewer rows
    same = [s[:300] for s in seqs]  # one length, but a full batch would pass the budget: rows are cut too
    fixed = ULMFiTModel(preset="tiny", seed=0, batch_tokens=1000).prepare(same, y)["train_data"]
    assert all(b["x"].numel() <= 1000 for b in fixed.batches(0))
    assert ULMFiTModel(preset="tiny").prepare(same, y)["train_data"].lengths is None  # 32 × 149 fits 65,536


@pytest.mark.parametrize("name", ["kmer", "gkm", "gkmsvm"])
def test_get_params_rebuild_an_equal_model_and_leave_out_the_device(name):
    """The base class reads the params back from ``__init__``'s arguments, as scikit-learn does."""
    model = model_from_name(name, seed=3)
    params = model.get_params()
    assert type(model)(**params).get_params() == params
    assert "device" not in params and json.loads(json.dumps(params)) == params  # JSON-able, lists not tuples
    assert repr(model).startswith(f"{type(model).__name__}(") and f"{next(iter(params))}=" in repr(model)


def test_fit_settings_count_an_encoder_by_its_contents_not_its_spelling(tmp_path, monkeypatch):
    from genomic_ulmfit.models.estimators import fit_settings

    for name in ("lm", "other"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "lm.json").write_text(json.dumps({"name": name}))
    monkeypatch.chdir(tmp_path)
    seqs, y = ["ACGT", "TTGA"], np.array([0, 1])

    def settings(encoder, seed=0):
        return fit_settings({"preset": "cpu", "encoder": encoder, "seed": seed}, {"lr": (1e-3, 1e-2)}, seqs, y)

    assert settings("lm") == settings(str(tmp_path / "lm")) == settings("./lm/")
    assert settings("lm") != settings("other")
    assert settings("lm", seed=np.int64(3)) == settings("lm", seed=3)  # numpy scalars as numbers
    assert settings("lm")["schedule"] == {"lr": [1e-3, 1e-2]}  # as read back from a checkpoint's JSON
    assert settings("lm") != fit_settings({"preset": "cpu", "encoder": "lm", "seed": 0}, {"lr": (1e-3, 1e-2)},
                                          seqs, y[::-1])
    # an LM fine-tune resumed after it had finished writes its lm.json again with another wall time
    # (a tenth of a second off, rounded): still the same encoder; other fields still count
    before = settings("lm")
    (tmp_path / "lm" / "lm.json").write_text(json.dumps({"seconds": 12.3, "name": "lm", "versions": {"torch": "x"},
                                                         "git_commit": "abc", "total_seconds": 99.0}))
    assert settings("lm") == before
    (tmp_path / "lm" / "lm.json").write_text(json.dumps({"name": "lm", "final": {"valid_loss": 2.0}}))
    assert settings("lm") != before


@pytest.mark.parametrize("kwargs, match", [({"valid_frac": 1.5}, "valid_frac 1.5: give the share"),
                                           ({"lr": -1.0}, "cnn: lr -1.0 must be > 0"),
                                           ({"epochs": 0}, "cnn: epochs 0 must be >= 1")])
def test_cnn_parameters_out_of_range_are_named(kwargs, match):
    seqs, y = planted(8)
    with pytest.raises(ConfigError, match=match):
        CNNModel(preset="tiny", **kwargs).fit(seqs, y, progress=False)
