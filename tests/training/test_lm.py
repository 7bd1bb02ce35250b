"""Genome LM pretraining, fine-tuning, reloading, resuming and document sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from genomic_ulmfit.config import get_preset
from genomic_ulmfit.data.simulate import simulate_cohn_layout
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.estimators import ULMFiTModel
from genomic_ulmfit.training import loop
from genomic_ulmfit.training.lm import (
    finetune_lm,
    lm_accuracy,
    load_language_model,
    pretrain_lm,
    read_lm_meta,
    sample_documents,
    total_tokens_seen,
)

VOCAB = 4**4 + 3


def preset():
    """Tiny, with a pretraining schedule that learns visibly in 2 short epochs."""
    return get_preset("tiny").replace(**{"pretrain.epochs": 2, "pretrain.lr": 2e-2, "pretrain.max_tokens": 30_000})


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    simulate_cohn_layout(out, n_species=1, per_class=60, genome_length=80_000, seed=0)
    pos = (out / "SimHuman" / "positive_samples").read_text().split()
    neg = (out / "SimHuman" / "negative_samples").read_text().split()
    return {"genome": out / "genomes" / "SimHuman.fa.gz", "sequences": pos + neg,
            "labels": np.array([1] * len(pos) + [0] * len(neg))}


@pytest.fixture(scope="module")
def pretrained(sim, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm")
    return pretrain_lm([sim["genome"]], out, preset=preset(), seed=0, progress=False)


@pytest.fixture(scope="module")
def finetuned(sim, pretrained, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm_ft")
    return finetune_lm(sim["sequences"], out, from_dir=pretrained, preset="tiny", seed=0, progress=False,
                       data_info={"rows": len(sim["sequences"])})


# ----------------------------------------------------------------------------- pretraining
def test_pretrain_writes_the_lm_directory_and_learns(pretrained, sim):
    assert (pretrained / "lm.json").is_file() and (pretrained / "lm.safetensors").is_file()
    assert (pretrained / "corpus" / "manifest.json").is_file()
    assert (pretrained / "checkpoints").is_dir() and (pretrained / "metrics.jsonl").is_file()
    meta = read_lm_meta(pretrained)
    assert meta["kind"] == "awd_lstm_lm" and meta["stage"] == "pretrain"
    assert meta["tokenizer"]["k"] == 4 and meta["tokenizer"]["stride"] == 2
    assert meta["config"]["vocab_size"] == VOCAB and meta["config"]["emb_size"] == 32
    assert meta["sources"] == [str(sim["genome"])] and meta["pretrained_from"] is None
    assert meta["train_config"]["epochs"] == 2 and meta["seed"] == 0
    assert len(meta["history"]) == 2 and meta["corpus"]["train_tokens"] > 20_000
    # Uniform guessing costs ln(vocab) ≈ 5.56 nats; the overlapping 4-mers make the next token
    # far more predictable than that.
    assert meta["final"]["valid_loss"] < math.log(VOCAB) - 1.0
    assert meta["best"]["metric"] == "valid_loss"
    assert "torch" in meta["versions"]


def test_load_language_model_rebuilds_identical_tied_weights(pretrained):
    model, tok, meta = load_language_model(pretrained)
    assert (tok.k, tok.stride) == (4, 2)
    assert model.decoder.weight is model.encoder.embedding.weight
    saved = load_file(pretrained / "lm.safetensors")
    state = model.state_dict()
    for key, value in saved.items():
        assert torch.equal(state[key], value), key
    assert set(state) - set(saved) <= {"decoder.weight", "encoder.embedding.weight"}
    again, _, _ = load_language_model(pretrained)
    x = torch.randint(3, VOCAB, (2, 20))
    model.eval()
    again.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], again(x)[0], rtol=0, atol=0)


def test_load_language_model_rescales_dropouts(pretrained):
    base = read_lm_meta(pretrained)["base_dropouts"]
    model, _, _ = load_language_model(pretrained, drop_mult=0.5)
    assert model.cfg.output_p == pytest.approx(base["output_p"] * 0.5)
    assert model.cfg.weight_p == pytest.approx(base["weight_p"] * 0.5)


def test_lm_accuracy_refuses_too_little_input(pretrained):
    with pytest.raises(InputError, match="0 sequence\\(s\\) hold fewer than two"):
        lm_accuracy(pretrained, [])
    with pytest.raises(InputError, match="1 sequence\\(s\\) hold fewer than two"):
        lm_accuracy(pretrained, ["ACGTA"])
    with pytest.raises(InputError, match="got one string"):
        lm_accuracy(pretrained, "ACGTACGTACGT")


def test_lm_accuracy(pretrained, sim):
    seqs = sim["sequences"][:40]
    res = lm_accuracy(pretrained, seqs, batch_size=8, bptt=35)
    assert 0.0 <= res["accuracy"] <= 1.0
    assert res["loss"] < math.log(VOCAB) - 0.5
    stream = sum(1 + (len(s) - 4) // 2 + 1 for s in seqs)  # <bos> + tokens per sequence
    assert res["tokens"] == 8 * ((stream - 1) // 8)


def test_resume_of_an_interrupted_pretraining_equals_the_uninterrupted_run(sim, pretrained, tmp_path, monkeypatch):
    calls = []
    write_metrics = loop._write_metrics

    def interrupt_after_first_epoch(out_dir, history):
        write_metrics(out_dir, history)
        calls.append(len(history))
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_write_metrics", interrupt_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        pretrain_lm([sim["genome"]], tmp_path, preset=preset(), seed=0, progress=False)
    assert calls == [1] and not (tmp_path / "lm.json").exists()
    monkeypatch.setattr(loop, "_write_metrics", write_metrics)

    pretrain_lm([sim["genome"]], tmp_path, preset=preset(), seed=0, progress=False, resume=True)
    a, b = load_file(pretrained / "lm.safetensors"), load_file(tmp_path / "lm.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    ha, hb = read_lm_meta(pretrained)["history"], read_lm_meta(tmp_path)["history"]
    assert [(r["train_loss"], r["valid_loss"]) for r in ha] == [(r["train_loss"], r["valid_loss"]) for r in hb]
    # the record's time includes the epoch trained before the interruption (the record rounds to 0.1 s)
    assert read_lm_meta(tmp_path)["seconds"] >= sum(r["seconds"] for r in hb) - 0.05

    # Resuming a finished run changes nothing.
    pretrain_lm([sim["genome"]], tmp_path, preset=preset(), seed=0, progress=False, resume=True)
    c = load_file(tmp_path / "lm.safetensors")
    assert all(torch.equal(a[key], c[key]) for key in a)


def test_resume_refuses_a_run_started_with_other_settings(sim, tmp_path, monkeypatch):
    write_metrics = loop._write_metrics

    def interrupt(out_dir, history):
        write_metrics(out_dir, history)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_write_metrics", interrupt)
    with pytest.raises(KeyboardInterrupt):
        pretrain_lm([sim["genome"]], tmp_path, preset=preset(), seed=0, progress=False)
    monkeypatch.setattr(loop, "_write_metrics", write_metrics)
    # Each of these used to resume silently, training the rest of the run on something else.
    changed = [({"seed": 1}, "seed = 0"), ({"preset": preset().replace(**{"pretrain.epochs": 3})},
                                           "schedule.epochs = 2"),
               ({"stride": 1, "k": 4}, "tokenizer.stride = 2, this one has 1"),
               ({"max_bases": 40_000}, r"other data \(corpus_sha256 differs\)")]
    for kw, what in changed:
        args = {"preset": preset(), "seed": 0, **kw}
        with pytest.raises(ConfigError, match=f"the stopped run was started with {what}"):
            pretrain_lm([sim["genome"]], tmp_path, progress=False, resume=True, **args)
    pretrain_lm([sim["genome"]], tmp_path, preset=preset(), seed=0, progress=False, resume=True)  # the same: fine
    assert (tmp_path / "lm.json").exists()


def test_a_genome_given_twice_is_refused(sim, tmp_path):
    import gzip

    plain = tmp_path / "copy.fa"
    plain.write_bytes(gzip.decompress(sim["genome"].read_bytes()))  # the same sequence, another file and format
    with pytest.raises(InputError, match="copy.fa: holds the same sequence as .*SimHuman.fa.gz; give each genome once"):
        pretrain_lm([sim["genome"], plain], tmp_path / "lm", preset=preset(), progress=False)


def test_continued_pretraining_starts_from_the_given_lm_and_adds_up_tokens(sim, pretrained, tmp_path):
    before = read_lm_meta(pretrained)
    cont = pretrain_lm([sim["genome"]], tmp_path / "more", preset=preset().replace(**{"pretrain.epochs": 1}),
                       seed=1, progress=False, init_from=pretrained)
    meta = read_lm_meta(cont)
    assert meta["pretrained_from"] == str(pretrained)
    assert meta["used"]["total_train_tokens_seen"] == (before["used"]["train_tokens_seen"]
                                                       + meta["used"]["train_tokens_seen"])
    assert total_tokens_seen(before) == before["used"]["train_tokens_seen"]  # a run from scratch: its own count
    assert total_tokens_seen(meta) == meta["used"]["total_train_tokens_seen"]
    from genomic_ulmfit.training.loop import amp_name

    assert meta["used"]["amp"] == before["used"]["amp"] == amp_name("cpu")  # the precision it trained in
    # The warm start is already a trained model: one more epoch ends at least as good as the
    # first run's and far below a fresh model after one epoch.
    fresh = pretrain_lm([sim["genome"]], tmp_path / "fresh", preset=preset().replace(**{"pretrain.epochs": 1}),
                        seed=1, progress=False)
    assert meta["final"]["valid_loss"] < read_lm_meta(fresh)["final"]["valid_loss"] - 0.05


def test_continued_pretraining_rejects_a_different_tokenizer(sim, pretrained, tmp_path):
    with pytest.raises(ConfigError, match="3-mer/1"):
        pretrain_lm([sim["genome"]], tmp_path, preset=preset(), k=3, stride=1, progress=False, init_from=pretrained)


def test_continued_pretraining_with_other_sizes_names_the_lms_own_preset(sim, pretrained, tmp_path):
    wider = preset().replace(**{"lstm.hidden_size": preset().lstm.hidden_size * 2})
    own = read_lm_meta(pretrained)["preset"]
    with pytest.raises(ConfigError, match=f"its sizes differ from the preset's .*continue it with --preset {own}"):
        pretrain_lm([sim["genome"]], tmp_path, preset=wider, progress=False, init_from=pretrained)


def test_pretrain_input_errors(tmp_path):
    with pytest.raises(ConfigError, match="learning rate -1.0 must be positive"):
        preset().replace(**{"pretrain.lr": -1.0})
    with pytest.raises(ConfigError, match="max_tokens -5 must be a positive number"):
        preset().replace(**{"pretrain.max_tokens": -5})
    with pytest.raises(InputError, match="genome FASTA not found"):
        pretrain_lm([tmp_path / "missing.fa"], tmp_path / "lm", preset="tiny", progress=False)
    with pytest.raises(InputError, match="no lm.json"):
        load_language_model(tmp_path)
    short = tmp_path / "short.fa"
    short.write_text(">a\nACGTNACGT\n")
    with pytest.raises(InputError, match=r"nothing to tokenize \(9 bases read\).*--mode stream"):
        pretrain_lm([short], tmp_path / "lm2", preset="tiny", progress=False)
    for k, stride in ((0, None), (4, 0)):  # 0 is a value, not "the preset's"
        with pytest.raises(ConfigError, match="=0 is not allowed"):
            pretrain_lm([short], tmp_path / "lm3", preset="tiny", k=k, stride=stride, progress=False)


def test_pretrain_on_the_real_human_genome(shared_data, tmp_path):
    fasta = shared_data / "genomes" / "human_chr22_epo_blocks.fa.gz"
    p = get_preset("tiny").replace(**{"pretrain.lr": 2e-2, "pretrain.max_tokens": 20_000})
    out = pretrain_lm([fasta], tmp_path, preset=p, max_bases=60_000, progress=False)
    meta = read_lm_meta(out)
    assert meta["corpus"]["train_tokens"] + meta["corpus"]["valid_tokens"] <= 60_000 // 2
    assert meta["final"]["valid_loss"] < math.log(VOCAB)


# ----------------------------------------------------------------------------- fine-tuning
def test_finetune_from_a_pretrained_lm(finetuned, pretrained):
    meta = read_lm_meta(finetuned)
    assert meta["stage"] == "finetune" and meta["pretrained_from"] == str(pretrained)
    assert meta["pretrained_meta"]["preset"] == "tiny"
    assert meta["tokenizer"] == read_lm_meta(pretrained)["tokenizer"]
    assert meta["data"] == {"rows": 120}
    # Dropouts: the pretrained LM's base values times the fine-tuning drop_mult.
    drop = get_preset("tiny").finetune.drop_mult
    assert meta["config"]["output_p"] == pytest.approx(meta["base_dropouts"]["output_p"] * drop)
    a, b = load_file(pretrained / "lm.safetensors"), load_file(finetuned / "lm.safetensors")
    assert a.keys() == b.keys()
    assert all(not torch.equal(a[key], b[key]) for key in a)  # every tensor trained


def test_finetune_from_scratch(sim, tmp_path):
    p = get_preset("tiny").replace(**{"tokenizer.k": 3, "tokenizer.stride": 1})
    out = finetune_lm(sim["sequences"], tmp_path, from_dir=None, preset=p, progress=False)
    meta = read_lm_meta(out)
    assert meta["pretrained_from"] is None and meta["pretrained_meta"] is None
    assert (meta["tokenizer"]["k"], meta["tokenizer"]["stride"]) == (3, 1)
    assert meta["config"]["vocab_size"] == 4**3 + 3
    assert math.isfinite(meta["final"]["valid_loss"])


def test_finetune_input_errors(tmp_path):
    with pytest.raises(InputError, match="at least one training sequence"):
        finetune_lm([], tmp_path / "a", from_dir=None, preset="tiny", progress=False)
    with pytest.raises(InputError, match="LM corpus too small"):
        finetune_lm(["ACGTACGTAC"] * 5, tmp_path / "b", from_dir=None, preset="tiny", progress=False)


def test_classifier_encoder_starts_from_the_finetuned_lm(finetuned, sim):
    lm, _, _ = load_language_model(finetuned)
    prep = ULMFiTModel("tiny", finetuned, seed=0).prepare(sim["sequences"], sim["labels"])
    clf_state, lm_state = prep["model"].encoder_state(), lm.encoder_state()
    assert clf_state.keys() == lm_state.keys()
    for key in lm_state:
        assert torch.equal(clf_state[key], lm_state[key]), key
    # Its tokenizer is the LM's, and the sizes too.
    assert prep["tokenizer"].to_dict() == read_lm_meta(finetuned)["tokenizer"]
    assert prep["config"].hidden_size == lm.cfg.hidden_size
    # Without an encoder the weights are random.
    fresh = ULMFiTModel("tiny", seed=0).prepare(sim["sequences"], sim["labels"])["model"].encoder_state()
    assert not torch.equal(fresh["embedding.weight"], lm_state["embedding.weight"])


# ----------------------------------------------------------------------------- sample_documents
def _docs(tokens: np.ndarray, starts: np.ndarray) -> list[tuple[int, ...]]:
    ends = np.append(starts[1:], len(tokens))
    return [tuple(tokens[a:b].tolist()) for a, b in zip(starts, ends)]


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 50), min_size=1, max_size=40),
    max_tokens=st.integers(1, 600),
    seed=st.integers(0, 5),
)
def test_sample_documents_keeps_whole_documents(lengths, max_tokens, seed):
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    # Distinct document contents: document i holds the value i everywhere.
    tokens = np.repeat(np.arange(len(lengths)), lengths).astype(np.uint16)
    out_tokens, out_starts = sample_documents(tokens, starts, max_tokens, seed)
    docs = _docs(out_tokens, out_starts)
    ids = [d[0] for d in docs]
    assert all(len(set(d)) == 1 for d in docs)  # whole documents ...
    assert ids == sorted(set(ids))  # ... each once, in the original order
    assert all(len(d) == lengths[i] for d, i in zip(docs, ids))
    if sum(lengths) <= max_tokens:
        assert len(out_tokens) == sum(lengths)
    else:
        # About max_tokens: at least that many, and less than one more document beyond it.
        assert max_tokens <= len(out_tokens) < max_tokens + max(lengths)
    again = sample_documents(tokens, starts, max_tokens, seed)
    np.testing.assert_array_equal(again[0], out_tokens)


def test_sample_documents_is_a_random_subset():
    lengths = [10] * 100
    starts = np.arange(0, 1000, 10, dtype=np.int64)
    tokens = np.repeat(np.arange(100), lengths)
    a, _ = sample_documents(tokens, starts, 200, seed=0)
    b, _ = sample_documents(tokens, starts, 200, seed=1)
    assert len(a) == 200
    assert set(a.tolist()) != set(b.tolist())
    assert set(a.tolist()) != set(range(20))  # not simply the start of the genome
