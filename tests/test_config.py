"""Presets: JSON round trips, strict parsing (unknown keys, wrong types), dotted overrides, paper presets."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from genomic_ulmfit.config import PRESETS, Preset, Stage, check_amp_mode, get_preset
from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.models.awd_lstm import LanguageModel, count_parameters, fastai_awd_lstm_param_count
from genomic_ulmfit.models.estimators import ULMFiTModel
from genomic_ulmfit.tokenize import KmerTokenizer
from genomic_ulmfit.training.lm import lm_config


def tiny_dict() -> dict:
    return get_preset("tiny").to_dict()


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_through_json(name):
    preset = get_preset(name)
    text = json.dumps(preset.to_dict())
    back = Preset.from_dict(json.loads(text))
    assert back == preset
    assert back.to_dict() == preset.to_dict()
    assert back.name == name
    # Tuples survive JSON's lists (moms, slice-like learning rates).
    assert isinstance(back.finetune.moms, tuple)
    assert all(isinstance(s, Stage) for s in back.classifier.stages)


def test_get_preset_returns_an_independent_copy():
    p = get_preset("tiny")
    p.classifier.stages[0].epochs = 99
    p.lstm.lm_dropouts["output_p"] = 0.9
    fresh = get_preset("tiny")
    assert fresh.classifier.stages[0].epochs != 99
    assert fresh.lstm.lm_dropouts["output_p"] != 0.9
    assert PRESETS["tiny"].classifier.stages[0].epochs != 99


def test_get_preset_reads_a_json_file(tmp_path):
    d = tiny_dict()
    d["name"] = "mine"
    d["classifier"]["batch_size"] = 7
    d["classifier"]["stages"] = [{"epochs": 2, "lr": [1e-4, 1e-3], "n_groups": 0}]
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(d))
    p = get_preset(path)
    assert p.name == "mine"
    assert p.classifier.batch_size == 7
    assert p.classifier.stages == [Stage(2, (1e-4, 1e-3), 0)]
    assert get_preset(str(path)) == p


def test_a_json_preset_may_give_a_base_and_what_differs(tmp_path):
    (tmp_path / "small_batch.json").write_text(json.dumps({"base": "cpu", "classifier": {"batch_size": 32}}))
    p = get_preset(tmp_path / "small_batch.json")
    cpu = get_preset("cpu")
    assert p.name == "small_batch" and p.classifier.batch_size == 32
    assert p.replace(**{"name": "cpu", "classifier.batch_size": cpu.classifier.batch_size}) == cpu
    (tmp_path / "sub").mkdir()  # a file base is found beside the file that names it, wherever the caller is
    (tmp_path / "sub" / "on_top.json").write_text(json.dumps({"base": "../small_batch.json", "name": "x",
                                                              "lstm": {"hidden_size": 64}}))
    q = get_preset(tmp_path / "sub" / "on_top.json")
    assert (q.name, q.lstm.hidden_size, q.classifier.batch_size) == ("x", 64, 32)
    (tmp_path / "a.json").write_text(json.dumps({"base": "b.json"}))
    (tmp_path / "b.json").write_text(json.dumps({"base": "a.json"}))
    with pytest.raises(ConfigError, match="leads back to itself"):
        get_preset(tmp_path / "a.json")
    for bad, match in (({"base": "cpu", "classifer": {}}, "unknown key 'classifer'"),
                       ({"base": "cpu", "lstm": 3}, "lstm: expected a mapping"),
                       ({"base": "huge"}, "unknown preset 'huge'")):
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match=match):
            get_preset(tmp_path / "bad.json")


def test_get_preset_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown preset 'huge'.*tiny"):
        get_preset("huge")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=r"bad\.json: not valid JSON"):
        get_preset(bad)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({**tiny_dict(), "colour": "red"}))
    with pytest.raises(ConfigError, match="colour"):
        get_preset(extra)


# ----------------------------------------------------------------------------- strict parsing
@pytest.mark.parametrize(
    "section, key",
    [(None, "epoch_count"), ("lstm", "hiden_size"), ("classifier", "lr"), ("tokenizer", "K")],
)
def test_unknown_key_is_a_config_error_naming_the_key(section, key):
    d = tiny_dict()
    (d if section is None else d[section])[key] = 1
    with pytest.raises(ConfigError) as err:
        Preset.from_dict(d)
    assert key in str(err.value)
    if section:
        assert f"preset.{section}" in str(err.value)


@pytest.mark.parametrize(
    "path, value, where",
    [
        (("tokenizer", "k"), "4", "preset.tokenizer.k"),
        (("tokenizer", "k"), 4.5, "preset.tokenizer.k"),
        (("tokenizer", "k"), True, "preset.tokenizer.k"),
        (("pretrain", "lr"), "fast", "preset.pretrain.lr"),
        (("pretrain", "moms"), [0.9, 0.8], "preset.pretrain.moms"),
        (("pretrain", "max_tokens"), 1.5, "preset.pretrain.max_tokens"),
        (("cnn", "rc_augment"), "yes", "preset.cnn.rc_augment"),
        (("cnn", "arch"), 3, "preset.cnn.arch"),
        (("lstm", "lm_dropouts"), [0.1], "preset.lstm.lm_dropouts"),
        (("classifier", "stages"), {"epochs": 1}, "preset.classifier.stages"),
    ],
)
def test_wrong_type_is_a_config_error_naming_the_key(path, value, where):
    d = tiny_dict()
    d[path[0]][path[1]] = value
    with pytest.raises(ConfigError, match="^" + re.escape(where)):
        Preset.from_dict(d)


def test_wrong_type_inside_a_stage_names_its_index():
    d = tiny_dict()
    d["classifier"]["stages"][1]["lr"] = [1e-3]
    with pytest.raises(ConfigError, match=r"preset\.classifier\.stages\[1\]\.lr"):
        Preset.from_dict(d)


def test_none_is_accepted_only_where_optional():
    d = tiny_dict()
    d["pretrain"]["max_tokens"] = None
    d["pretrain"]["clip"] = None
    p = Preset.from_dict(d)
    assert p.pretrain.max_tokens is None and p.pretrain.clip is None
    d["pretrain"]["epochs"] = None
    with pytest.raises(ConfigError, match="preset.pretrain.epochs"):
        Preset.from_dict(d)


def test_missing_required_keys_are_config_errors():
    d = tiny_dict()
    del d["name"]
    with pytest.raises(ConfigError, match="preset: missing key.*name"):
        Preset.from_dict(d)
    d = tiny_dict()
    del d["classifier"]["stages"][0]["lr"]
    with pytest.raises(ConfigError, match=r"stages\[0\]: missing key.*lr"):
        Preset.from_dict(d)


def test_a_partial_section_keeps_the_defaults_of_the_rest():
    p = Preset.from_dict({"name": "x", "tokenizer": {"k": 5}})
    assert p.tokenizer.k == 5 and p.tokenizer.stride == 2
    assert p.lstm.hidden_size == 1150


def test_dropout_dicts_are_checked():
    d = tiny_dict()
    d["lstm"]["lm_dropouts"]["output_p"] = "high"
    with pytest.raises(ConfigError, match=r"preset\.lstm\.lm_dropouts\.output_p"):
        Preset.from_dict(d)
    d = tiny_dict()
    d["lstm"]["clas_dropouts"]["drop_everything"] = 0.1
    with pytest.raises(ConfigError, match="drop_everything"):
        Preset.from_dict(d)
    d = tiny_dict()
    d["lstm"]["lm_dropouts"]["weight_p"] = 1.5
    with pytest.raises(ConfigError, match="weight_p"):
        Preset.from_dict(d)


@pytest.mark.parametrize("key", ["ar_alpha", "tar_beta"])
def test_classifier_activation_regularisation_must_not_be_negative(key):
    d = tiny_dict()
    d["classifier"][key] = -1.0
    with pytest.raises(ConfigError, match=rf"classifier\.{key} -1\.0 must be 0 \(off\) or positive"):
        Preset.from_dict(d)


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="expected a mapping"):
        Preset.from_dict(["tiny"])
    d = tiny_dict()
    d["lstm"] = 3
    with pytest.raises(ConfigError, match="preset.lstm: expected a mapping"):
        Preset.from_dict(d)


# ----------------------------------------------------------------------------- replace
def test_replace_with_dotted_keys():
    p = get_preset("tiny")
    q = p.replace(**{"classifier.batch_size": 8, "pretrain.epochs": 3, "tokenizer.k": 5, "name": "tiny5"})
    assert (q.classifier.batch_size, q.pretrain.epochs, q.tokenizer.k, q.name) == (8, 3, 5, "tiny5")
    assert (p.classifier.batch_size, p.pretrain.epochs, p.tokenizer.k) == (32, 1, 4)  # unchanged
    assert q.finetune == p.finetune
    r = p.replace(**{"classifier.stages": [{"epochs": 4, "lr": 0.01, "n_groups": 0}]})
    assert r.classifier.stages == [Stage(4, 0.01, 0)]
    s = p.replace(**{"lstm.lm_dropouts": {"output_p": 0.0}})
    assert s.lstm.lm_dropouts == {"output_p": 0.0}


@pytest.mark.parametrize("key", ["classifier.batchsize", "clasifier.batch_size", "tokenizer.k.x", "name.x"])
def test_replace_unknown_key(key):
    with pytest.raises(ConfigError, match=f"unknown preset key '{key}'"):
        get_preset("tiny").replace(**{key: 1})


def test_replace_checks_types():
    with pytest.raises(ConfigError, match=r"preset\.pretrain\.epochs"):
        get_preset("tiny").replace(**{"pretrain.epochs": "two"})


# ----------------------------------------------------------------------------- the seed's presets
PAPER = [("paper-4mer", 4, 2), ("paper-5mer", 5, 2), ("paper-3mer", 3, 1)]


@pytest.mark.parametrize("name, k, stride", PAPER)
def test_paper_presets_build_the_seed_language_model(name, k, stride):
    p = get_preset(name)
    assert (p.tokenizer.k, p.tokenizer.stride) == (k, stride)
    tok = KmerTokenizer(p.tokenizer.k, p.tokenizer.stride)
    assert tok.vocab_size == 4**k + 3
    cfg = lm_config(p, tok, p.finetune.drop_mult)
    assert (cfg.vocab_size, cfg.emb_size, cfg.hidden_size, cfg.n_layers) == (4**k + 3, 400, 1150, 3)
    assert cfg.tie_weights
    with torch.device("meta"):  # shapes only, no memory
        lm = LanguageModel(cfg)
    assert lm.encoder.embedding.weight.shape == (4**k + 3, 400)
    assert lm.decoder.weight is lm.encoder.embedding.weight
    assert len(lm.encoder.rnns) == 3
    assert count_parameters(lm) == fastai_awd_lstm_param_count(4**k + 3, 400, 1150, 3)
    # LM dropouts: the notebooks' values times drop_mult 0.3.
    assert p.finetune.drop_mult == 0.3
    assert cfg.output_p == pytest.approx(0.25 * 0.3) and cfg.weight_p == pytest.approx(0.15 * 0.3)


@pytest.mark.parametrize("name, k, stride", PAPER)
def test_paper_presets_schedules(name, k, stride):
    p = get_preset(name)
    stages = [(s.epochs, s.lr, s.n_groups) for s in p.classifier.stages]
    expected = [
        (3, 2e-2, 1),
        (3, (1e-2 / 2.6**4, 1e-2), 2),
        (3, (5e-3 / 2.6**4, 5e-3), 3),
        (3, (1e-3 / 2.6**4, 1e-3), 0),
    ]
    assert len(stages) == 4
    for (e, lr, g), (e2, lr2, g2) in zip(stages, expected):
        assert (e, g) == (e2, g2)
        assert lr == pytest.approx(lr2, rel=1e-12)
        assert isinstance(lr, tuple) == isinstance(lr2, tuple)
    assert p.finetune.epochs == 8 and p.finetune.lr == 1e-3
    assert p.finetune.moms == (0.8, 0.7, 0.8)
    assert p.classifier.moms == (0.8, 0.7, 0.8)
    assert p.classifier.drop_mult == 0.5
    assert (p.classifier.ar_alpha, p.classifier.tar_beta) == (2.0, 1.0)  # fastai v1's RNNLearner


@pytest.mark.parametrize("name, k, stride", PAPER)
def test_paper_presets_build_the_seed_classifier(name, k, stride):
    est = ULMFiTModel(name)
    p = get_preset(name)
    tok = KmerTokenizer(k, stride)
    sizes = {"emb_size": 400, "hidden_size": 1150, "n_layers": 3}
    with torch.device("meta"):
        cfg, clf = est._build(tok, sizes, p.lstm.clas_dropouts, p.classifier.drop_mult)
    assert (cfg.vocab_size, cfg.emb_size, cfg.hidden_size, cfg.n_layers) == (4**k + 3, 400, 1150, 3)
    # fastai's classifier dropouts times drop_mult 0.5; 5 layer groups for gradual unfreezing.
    assert cfg.weight_p == pytest.approx(0.5 * 0.5) and cfg.input_p == pytest.approx(0.4 * 0.5)
    assert len(clf.layer_groups()) == 5
    assert clf.head.layers[0].num_features == 3 * 400


def test_tiny_preset_is_small():
    p = get_preset("tiny")
    assert p.lstm.hidden_size <= 64 and p.pretrain.max_tokens is not None
    assert math.prod([s.epochs for s in p.classifier.stages]) <= 4


def test_resolve_device_rejects_unknown_and_unavailable_devices():
    import torch

    from genomic_ulmfit.errors import ConfigError
    from genomic_ulmfit.utils import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="'foo' is not a device"):
        resolve_device("foo")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA; use --device cpu"):
            resolve_device("cuda")


def test_check_amp_mode_normalises_and_names_where_a_bad_mode_came_from():
    assert [check_amp_mode(m) for m in ("BF16", " off ", "", "auto")] == ["bf16", "off", "auto", "auto"]
    with pytest.raises(ConfigError, match=r"^--amp 'half' is not a mode; use one of auto, off, bf16, fp16$"):
        check_amp_mode("half", "--amp ")
    with pytest.raises(ConfigError, match=r"^GENOMIC_ULMFIT_AMP='fp8' is not a mode"):
        check_amp_mode("fp8")
