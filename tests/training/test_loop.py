"""The shared training loop: learning, exact resume, stages, checkpoints, metrics."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from torch import nn

from genomic_ulmfit.config import AMP_ENV
from genomic_ulmfit.data.corpus import ClassificationBatches, LMBatches
from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.training import loop
from genomic_ulmfit.training.checkpoint import checkpoint_exists, read_meta
from genomic_ulmfit.training.loop import (
    ClassificationTask,
    LanguageModelTask,
    amp_name,
    auroc_metrics,
    evaluate,
    fit_one_cycle,
    resolve_amp,
)

V = 10


class ToyLM(nn.Module):
    """Embedding → dropout → LSTM → linear; returns (logits, state, extras) like the AWD-LSTM LM."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.emb = nn.Embedding(V, 16)
        self.drop = nn.Dropout(0.1)
        self.rnn = nn.LSTM(16, 32, batch_first=True)
        self.dec = nn.Linear(32, V)

    def forward(self, x, state=None):
        raw, state = self.rnn(self.emb(x), state)  # (B, T, 32)
        out = self.drop(raw)
        return self.dec(out), state, {"raw_outputs": [raw], "outputs": [out]}

    def layer_groups(self):
        return [self.emb, self.rnn, self.dec]


class ToyClassifier(nn.Module):
    """Mean-pooled embeddings → linear, logits (B, 2)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.emb = nn.Embedding(V, 8, padding_idx=0)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(8, 2))

    def forward(self, x):
        return self.head(self.emb(x).mean(1))

    def layer_groups(self):
        return [self.emb, self.head]


def _lm_data(seed: int = 0):
    stream = np.tile(np.arange(3, 10, dtype=np.uint8), 300)  # period-7 pattern, 2100 tokens
    train = LMBatches(stream[:1600], batch_size=8, bptt=20, jitter=True, seed=seed)
    valid = LMBatches(stream[1600:], batch_size=4, bptt=20, jitter=False)
    return train, valid


def _clf_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 96)
    x = rng.integers(3, 10, (96, 12)).astype(np.uint8)
    x[:, :4] = np.where(y[:, None] == 1, 3, 4)  # label-revealing tokens
    x[::3, -3:] = 0  # some padding
    return ClassificationBatches(x[:64], y[:64], 16, seed=1), ClassificationBatches(x[64:], y[64:], 16, shuffle=False)


def _fit(model, out_dir=None, **kw):
    train, valid = _lm_data()
    kw = {"epochs": 3, "lr": 3e-2, "progress": False, "out_dir": out_dir, **kw}
    return fit_one_cycle(model, LanguageModelTask(), train, valid, **kw)


def test_lm_loss_falls():
    model = ToyLM()
    _, valid = _lm_data()
    initial = evaluate(model, LanguageModelTask(), valid)["loss"]
    result = _fit(model)
    assert len(result.history) == 3
    assert result.history[-1]["valid_loss"] < 0.5 * initial
    assert result.history[-1]["valid_accuracy"] > 0.5
    assert result.history[-1]["tokens_per_s"] > 0


class Interrupt(Exception):
    pass


def _interrupt_after(n_epochs: int):
    def hook(record):
        if record["epoch"] + 1 == n_epochs:
            raise Interrupt

    return hook


@pytest.mark.parametrize("amp", ["off", "bf16"])
def test_lm_loss_falls_in_either_precision(amp):
    model = ToyLM()
    result = _fit(model, amp=amp)
    assert result.history[-1]["valid_accuracy"] > 0.5
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast: weights stay fp32


@pytest.mark.parametrize(("amx", "avx512_bf16", "native"),
                         [(True, False, True), (False, True, True), (False, False, False)])
def test_native_bf16_means_amx_or_avx512_bf16(monkeypatch, amx, avx512_bf16, native):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    assert loop.cpu_has_native_bf16() is native


def test_amp_modes_and_the_cpu_default(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv(AMP_ENV, raising=False)
    monkeypatch.setattr(loop, "cpu_has_native_bf16", lambda: True)
    assert resolve_amp(None, cpu) is torch.bfloat16 and amp_name(cpu) == "bf16"
    assert resolve_amp("off", cpu) is None and resolve_amp(False, cpu) is None
    monkeypatch.setattr(loop, "cpu_has_native_bf16", lambda: False)  # bf16 would be emulated: fp32
    assert resolve_amp(None, cpu) is None and amp_name("cpu") == "off"
    assert resolve_amp(True, cpu) is torch.bfloat16
    monkeypatch.setenv(AMP_ENV, "BF16")
    assert resolve_amp(None, cpu) is torch.bfloat16 and amp_name(cpu) == "bf16"
    monkeypatch.setattr(loop, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setenv(AMP_ENV, "off")
    assert resolve_amp(None, cpu) is None
    assert resolve_amp("bf16", cpu) is torch.bfloat16  # an explicit argument wins over the environment
    monkeypatch.setenv(AMP_ENV, "fast")
    with pytest.raises(ConfigError, match="GENOMIC_ULMFIT_AMP='fast' is not a mode"):
        resolve_amp(None, cpu)
    with pytest.raises(ConfigError, match="amp='half' is not allowed"):
        resolve_amp("half", cpu)
    with pytest.raises(ConfigError, match="fp16 autocast runs on CUDA only"):
        resolve_amp("fp16", cpu)  # the CPU LSTM has no fp16 kernel: one clear line, not a oneDNN traceback


def test_resume_reproduces_uninterrupted_run_exactly(tmp_path):
    full = _fit(ToyLM(), tmp_path / "full")
    with pytest.raises(Interrupt):
        _fit(ToyLM(), tmp_path / "cut", on_epoch_end=_interrupt_after(2))
    assert read_meta(tmp_path / "cut" / "checkpoints" / "last")["epochs_done"] == 2
    resumed_model = ToyLM(seed=123)  # fresh, different weights
    resumed = _fit(resumed_model, tmp_path / "cut", resume=True)
    a, b = full.history[2], resumed.history[2]
    assert a["train_loss"] == b["train_loss"] and a["valid_loss"] == b["valid_loss"]
    assert [r["epoch"] for r in resumed.history] == [0, 1, 2]
    final = ToyLM()
    from genomic_ulmfit.training.checkpoint import load_checkpoint

    load_checkpoint(tmp_path / "full" / "checkpoints" / "last", final)
    for (n, p), q in zip(final.state_dict().items(), resumed_model.state_dict().values(), strict=True):
        assert torch.equal(p, q), n
    lines = [json.loads(x) for x in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [0, 1, 2]


class _CutAt:
    """Training data that raises Interrupt before batch ``at`` of epoch ``epoch`` (a killed run)."""

    def __init__(self, data, epoch: int, at: int) -> None:
        self.data, self.epoch, self.at = data, epoch, at

    def __len__(self) -> int:
        return len(self.data)

    def num_batches(self, epoch: int) -> int:
        return loop.num_batches(self.data, epoch)

    def batches(self, epoch: int):
        for i, b in enumerate(self.data.batches(epoch)):
            if epoch == self.epoch and i == self.at:
                raise Interrupt
            yield b


def _cut_fit(make, out_dir, checkpoint_minutes):
    """A 3-epoch LM fit killed before batch 4 of epoch 1; returns its ``last`` checkpoint's meta."""
    train, valid = _lm_data()
    with pytest.raises(Interrupt):
        fit_one_cycle(make(0), LanguageModelTask(), _CutAt(train, 1, 4), valid, epochs=3, lr=3e-2, progress=False,
                      out_dir=out_dir, checkpoint_minutes=checkpoint_minutes)
    return read_meta(out_dir / "checkpoints" / "last")


def _awd_lm(seed: int = 0):
    from genomic_ulmfit.models.awd_lstm import LanguageModel

    torch.manual_seed(seed)
    return LanguageModel(_awd_cfg())


@pytest.mark.parametrize("make", [ToyLM, _awd_lm], ids=["lstm", "awd-lstm"])
def test_resume_from_the_middle_of_an_epoch_is_exact(tmp_path, make):
    full_model = make(0)
    full = _fit(full_model, tmp_path / "full", checkpoint_minutes=None)
    assert read_meta(tmp_path / "full" / "checkpoints" / "last")["mid_epoch"] is None
    cut = tmp_path / "cut"
    last = _cut_fit(make, cut, checkpoint_minutes=0)  # a checkpoint after every batch
    assert last["epochs_done"] == 1 and last["mid_epoch"]["batches"] == 4
    assert last["step"] == loop.num_batches(_lm_data()[0], 0) + 4
    assert last["mid_epoch"]["task_state"] is not None  # the LM's hidden state went with it
    model = make(5)  # other weights: everything must come from the checkpoint
    resumed = _fit(model, cut, resume=True)
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in full.history]
    assert [r["valid_loss"] for r in resumed.history] == [r["valid_loss"] for r in full.history]
    for (n, p), q in zip(full_model.state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(p, q), n
    assert read_meta(cut / "checkpoints" / "last")["mid_epoch"] is None


def test_a_mid_epoch_checkpoint_counts_its_seconds_and_refuses_other_data(tmp_path):
    last = _cut_fit(ToyLM, tmp_path, checkpoint_minutes=0)
    epoch0 = last["history"][0]["seconds"]
    assert loop.trained_seconds(tmp_path) == pytest.approx(epoch0 + last["mid_epoch"]["seconds"])
    assert last["mid_epoch"]["seconds"] > 0
    other = LMBatches(np.tile(np.arange(3, 10, dtype=np.uint8), 300)[:1600], batch_size=4, bptt=20, jitter=True)
    with pytest.raises(ConfigError, match="stopped at batch 4 of .* now has .* batches; resume it with the same data"):
        fit_one_cycle(ToyLM(), LanguageModelTask(), other, _lm_data()[1], epochs=3, lr=3e-2, progress=False,
                      out_dir=tmp_path, resume=True)


def test_a_resumed_epoch_shows_its_own_rate_not_the_earlier_runs(tmp_path, capsys):
    _cut_fit(ToyLM, tmp_path, checkpoint_minutes=0)
    meta_path = tmp_path / "checkpoints" / "last.json"
    meta = json.loads(meta_path.read_text())
    meta["mid_epoch"]["seconds"] = 1e6  # the earlier run crawled (a busy machine)
    meta_path.write_text(json.dumps(meta))
    _fit(ToyLM(), tmp_path, resume=True, progress=True)
    lines = re.findall(r"^\S+ 2/3 \d+/\d+ loss .*$", capsys.readouterr().out, re.M)  # the log lines
    rates = [float(r) for x in lines for r in re.findall(r"([\d.]+)k tok/s", x)]
    assert rates and min(rates) > 0.1  # 80-token batches at thousands of tokens/s, not 1.6k tokens / 1e6 s
    assert lines[-1].endswith("epoch eta 0:00:00")  # the last batch: nothing left


class _NaNAfter(LanguageModelTask):
    """A task whose loss turns NaN from batch ``n`` on (a diverging run)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.seen = n, 0

    def loss(self, model, batch):
        loss, n, stats = super().loss(model, batch)
        self.seen += 1
        if self.seen > self.n:
            loss = loss * float("nan")
            stats = {**stats, "loss": loss.detach()}
        return loss, n, stats


def test_a_diverged_epoch_is_never_saved_mid_way(tmp_path):
    train, valid = _lm_data()
    with pytest.raises(RuntimeError, match="training diverged"):
        fit_one_cycle(ToyLM(), _NaNAfter(3), train, valid, epochs=2, lr=3e-2,
                      progress=False, out_dir=tmp_path, checkpoint_minutes=0)
    last = read_meta(tmp_path / "checkpoints" / "last")
    assert last["epochs_done"] == 0 and last["mid_epoch"]["batches"] == 3  # the last finite batch


def test_no_mid_epoch_checkpoint_before_the_interval(tmp_path):
    last = _cut_fit(ToyLM, tmp_path, checkpoint_minutes=10)
    assert last["epochs_done"] == 1 and last["mid_epoch"] is None


def test_pack_state_round_trips_nested_states():
    state = [(torch.arange(3.0), torch.ones(2, 2)), {"h": torch.zeros(1)}, None]
    skeleton, tensors = loop.pack_state(state, "task")
    assert json.loads(json.dumps(skeleton)) == skeleton and set(tensors) == {"task.0", "task.1", "task.2"}
    back = loop.unpack_state(skeleton, tensors)
    assert isinstance(back[0], tuple) and torch.equal(back[0][0], state[0][0]) and torch.equal(back[1]["h"], state[1]["h"])
    assert back[2] is None
    with pytest.raises(TypeError, match="holding str"):
        loop.pack_state(["h"])


def test_a_stopped_run_continues_only_in_its_own_precision(tmp_path):
    with pytest.raises(Interrupt):
        _fit(ToyLM(), tmp_path / "cut", amp="off", on_epoch_end=_interrupt_after(1))
    assert read_meta(tmp_path / "cut" / "checkpoints" / "last")["fit"]["amp"] == "off"
    with pytest.raises(ConfigError, match="was training with --amp off; continue it with --amp off"):
        _fit(ToyLM(), tmp_path / "cut", amp="bf16", resume=True)
    assert len(_fit(ToyLM(), tmp_path / "cut", amp="off", resume=True).history) == 3


def _stages(model, out_dir, resume=False, hook=None):
    train, valid = _lm_data()
    common = {"progress": False, "out_dir": out_dir, "resume": resume}
    r1 = fit_one_cycle(model, LanguageModelTask(), train, valid, epochs=1, lr=1e-2, freeze_to=-1,
                       stage_name="head", **common)
    r2 = fit_one_cycle(model, LanguageModelTask(), train, valid, epochs=2, lr=(1e-3, 1e-2), freeze_to=0,
                       stage_name="all", on_epoch_end=hook, **common)
    return r1, r2


def test_multistage_resume_skips_done_stage_and_continues_the_next(tmp_path):
    full_model = ToyLM()
    _, full = _stages(full_model, tmp_path / "full")
    with pytest.raises(Interrupt):
        _stages(ToyLM(), tmp_path / "cut", hook=_interrupt_after(1))
    model = ToyLM(seed=7)
    r1, r2 = _stages(model, tmp_path / "cut", resume=True)
    assert r1.skipped and not r2.skipped
    assert r2.history[1]["train_loss"] == full.history[1]["train_loss"]
    for p, q in zip(full_model.parameters(), model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert checkpoint_exists(tmp_path / "cut" / "checkpoints" / "stage-head")
    lines = [json.loads(x) for x in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["epoch"]) for r in lines] == [("head", 0), ("all", 0), ("all", 1)]
    # everything done: a third resume skips both stages and lands on the same weights
    again = ToyLM(seed=9)
    s1, s2 = _stages(again, tmp_path / "cut", resume=True)
    assert s1.skipped and s2.skipped
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters(), strict=True))


def test_frozen_groups_unchanged_during_fit():
    model = ToyLM()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    _fit(model, epochs=1, freeze_to=-1)
    for n, p in model.named_parameters():
        assert torch.equal(before[n], p) == (not n.startswith("dec")), n


def test_classifier_metrics_best_checkpoint_and_early_stop(tmp_path):
    train, valid = _clf_data()
    model = ToyClassifier()
    stops = []
    res = fit_one_cycle(model, ClassificationTask(), train, valid, epochs=4, lr=5e-2, progress=False,
                        out_dir=tmp_path, select_metric="auroc", metrics_fn=auroc_metrics,
                        on_epoch_end=lambda r: stops.append(r["epoch"]) or r["epoch"] == 2)
    assert res.stopped_early and [r["epoch"] for r in res.history] == [0, 1, 2] and stops == [0, 1, 2]
    assert res.history[-1]["valid_auroc"] > 0.9 and res.history[-1]["valid_accuracy"] > 0.8
    best = read_meta(tmp_path / "checkpoints" / "best")["best"]
    assert best["metric"] == "valid_auroc" and best["mode"] == "max"
    assert best["value"] == max(r["valid_auroc"] for r in res.history)
    assert read_meta(tmp_path / "checkpoints" / "last")["done"] is True


def test_evaluate_restores_mode_and_tracks_no_grad():
    model = ToyClassifier()
    _, valid = _clf_data()
    model.train()
    out = evaluate(model, ClassificationTask(), valid, metrics_fn=auroc_metrics)
    assert model.training and {"loss", "accuracy", "auroc"} <= set(out)
    model.eval()
    evaluate(model, ClassificationTask(), valid)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())


def test_lm_task_adds_ar_tar_in_training_only():
    model = ToyLM()
    x = torch.randint(0, V, (2, 6))
    batch = {"x": x[:, :-1], "y": x[:, 1:]}
    task = LanguageModelTask(ar_alpha=2.0, tar_beta=1.0)
    model.train()
    loss, n, stats = task.loss(model, batch)
    assert n == 10 and loss.item() > stats["loss"].item() and "ar" in stats and "tar" in stats
    assert task.state is not None and not task.state[0].requires_grad
    model.eval()
    task.reset()
    loss, _, stats = task.loss(model, batch)
    assert loss.item() == stats["loss"].item() and "ar" not in stats


# ---------------------------------------------------------------------------- with the real AWD-LSTM
def _awd_cfg():
    from genomic_ulmfit.models.awd_lstm import AWDLSTMConfig

    return AWDLSTMConfig(vocab_size=V, emb_size=8, hidden_size=12, n_layers=2)


def test_real_language_model_resume_is_exact_and_uses_ar_tar(tmp_path):
    from genomic_ulmfit.models.awd_lstm import LanguageModel

    def run(out, seed, **kw):
        torch.manual_seed(seed)
        return _fit(LanguageModel(_awd_cfg()), out, epochs=2, **kw)

    full = run(tmp_path / "full", 0)
    assert full.history[-1]["train_ar"] > 0 and full.history[-1]["train_tar"] > 0
    with pytest.raises(Interrupt):
        run(tmp_path / "cut", 0, on_epoch_end=_interrupt_after(1))
    resumed = run(tmp_path / "cut", 5, resume=True)
    assert resumed.history[1]["train_loss"] == full.history[1]["train_loss"]
    assert resumed.history[1]["valid_loss"] == full.history[1]["valid_loss"]


def test_real_classifier_gradual_unfreezing_keeps_frozen_groups(tmp_path):
    from genomic_ulmfit.models.awd_lstm import ULMFiTClassifier

    torch.manual_seed(0)
    model = ULMFiTClassifier(_awd_cfg())
    train, valid = _clf_data()
    groups = model.layer_groups()
    emb_before = model.encoder.embedding.weight.detach().clone()
    rnn_before = [p.detach().clone() for p in model.encoder.rnns[-1].parameters()]
    res = fit_one_cycle(model, ClassificationTask(), train, valid, epochs=1, lr=(1e-3, 1e-2), freeze_to=-1,
                        progress=False, out_dir=tmp_path, stage_name="clas-1")
    assert torch.equal(emb_before, model.encoder.embedding.weight)
    assert all(torch.equal(a, b) for a, b in zip(rnn_before, model.encoder.rnns[-1].parameters(), strict=True))
    fit_one_cycle(model, ClassificationTask(), train, valid, epochs=1, lr=(1e-3, 1e-2), freeze_to=-2,
                  progress=False, out_dir=tmp_path, stage_name="clas-2")
    assert torch.equal(emb_before, model.encoder.embedding.weight)
    assert not all(torch.equal(a, b) for a, b in zip(rnn_before, model.encoder.rnns[-1].parameters(), strict=True))
    assert len(groups) == 4 and res.history[0]["valid_loss"] > 0


def test_classifier_task_adds_masked_ar_tar_in_training_only():
    import dataclasses

    from genomic_ulmfit.config import DROPOUT_KEYS
    from genomic_ulmfit.models.awd_lstm import ULMFiTClassifier, ar_term, tar_term

    torch.manual_seed(0)
    no_dropout = dict.fromkeys(DROPOUT_KEYS, 0.0)
    model = ULMFiTClassifier(dataclasses.replace(_awd_cfg(), **no_dropout), head_ps=(0.0, 0.0))
    x = torch.randint(1, V, (3, 7))
    x[0, 4:] = 0  # right padding
    batch = {"x": x, "y": torch.tensor([0, 1, 1])}
    model.eval()
    logits, extras = model(x, return_outputs=True)
    ce = torch.nn.functional.cross_entropy(logits.float(), batch["y"])
    ar, tar = ar_term(extras["raw"], extras["mask"]), tar_term(extras["raw"], extras["mask"])
    assert ar > 0 and tar > 0 and ar != ar_term(extras["raw"])  # the padding is left out
    plain_loss, _, plain = ClassificationTask(ar_alpha=2.0, tar_beta=1.0).loss(model, batch)
    torch.testing.assert_close(plain_loss, ce)  # not in training
    assert "ar" not in plain
    model.train()
    for m in model.head.modules():  # BatchNorm on its running statistics: the outputs of eval mode
        if isinstance(m, nn.BatchNorm1d):
            m.eval()
    loss, n, stats = ClassificationTask(ar_alpha=2.0, tar_beta=1.0).loss(model, batch)
    torch.testing.assert_close(loss, ce + 2 * ar + tar)
    torch.testing.assert_close(stats["loss"], ce)  # the reported loss stays the cross-entropy
    assert n == 3 and stats["ar"] == ar and stats["tar"] == tar
    loss, _, stats = ClassificationTask(ar_alpha=0.0, tar_beta=1.0).loss(model, batch)
    torch.testing.assert_close(loss, ce + tar)
    assert "ar" not in stats


def test_restore_best_can_come_from_an_earlier_stage_and_survives_resume(tmp_path):
    train, valid = _clf_data()
    snapshots = {}

    def run(model, resume=False):
        kw = {"progress": False, "out_dir": tmp_path, "resume": resume, "select_metric": "valid_loss",
              "select_mode": "max"}  # "best" = highest loss: the first epoch
        fit_one_cycle(model, ClassificationTask(), train, valid, epochs=1, lr=5e-2, stage_name="s1",
                      on_epoch_end=lambda r: snapshots.setdefault(r["stage"], {k: v.clone() for k, v in
                                                                              model.state_dict().items()}), **kw)
        return fit_one_cycle(model, ClassificationTask(), train, valid, epochs=2, lr=5e-2, stage_name="s2",
                             restore_best=True, **kw)

    model = ToyClassifier()
    res = run(model)
    assert res.best["stage"] == "s1"
    assert all(torch.equal(v, snapshots["s1"][k]) for k, v in model.state_dict().items())
    again = ToyClassifier(seed=3)
    assert run(again, resume=True).skipped
    assert all(torch.equal(v, snapshots["s1"][k]) for k, v in again.state_dict().items())
