"""safetensors + JSON checkpoints: round trip, tied weights, no pickle, RNG states."""

from __future__ import annotations

import json
import pickle
import random

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from genomic_ulmfit.errors import InputError
from genomic_ulmfit.training.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from genomic_ulmfit.training.optim import make_optimizer


class TiedLM(nn.Module):
    """Embedding → LSTM → decoder tied to the embedding (like AWD-LSTM)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(12, 8)
        self.rnn = nn.LSTM(8, 8, batch_first=True)
        self.norm = nn.LayerNorm(8)
        self.dec = nn.Linear(8, 12)
        self.dec.weight = self.emb.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dec(self.norm(self.rnn(self.emb(x))[0]))


def _trained(seed: int = 0) -> tuple[TiedLM, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = TiedLM()
    opt = make_optimizer([model], 1e-2)
    for _ in range(2):
        x = torch.randint(0, 12, (4, 5))
        loss = nn.functional.cross_entropy(model(x).reshape(-1, 12), x.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, opt


def test_round_trip_model_optimizer_and_tied(tmp_path):
    model, opt = _trained(0)
    save_checkpoint(tmp_path / "ck", model, optimizer=opt, meta={"epoch": 3, "config": {"emb": 8}})
    fresh, fresh_opt = _trained(1)  # different weights and optimizer state
    meta = load_checkpoint(tmp_path / "ck", fresh, fresh_opt)
    assert meta["epoch"] == 3 and meta["config"] == {"emb": 8}
    for (n, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert torch.equal(a, b), n
    assert fresh.dec.weight is fresh.emb.weight  # still tied
    assert fresh.dec.weight.data_ptr() == fresh.emb.weight.data_ptr()
    s1, s2 = opt.state_dict(), fresh_opt.state_dict()
    for idx, st in s1["state"].items():
        for key, v in st.items():
            assert torch.equal(v, s2["state"][idx][key]), (idx, key)
    assert [g["lr"] for g in s1["param_groups"]] == [g["lr"] for g in s2["param_groups"]]
    assert s2["param_groups"][0]["betas"] == s1["param_groups"][0]["betas"]


def test_files_are_safetensors_and_json_and_load_without_pickle(tmp_path, monkeypatch):
    model, opt = _trained(0)
    save_checkpoint(tmp_path / "ck", model, optimizer=opt, meta={"stage": "a"})
    tensors = load_file(str(tmp_path / "ck.safetensors"))
    assert "dec.weight" not in tensors or "emb.weight" not in tensors  # the tied tensor stored once
    assert any(k.startswith("optim/") for k in tensors)
    assert json.loads((tmp_path / "ck.json").read_text())["stage"] == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.json", "ck.safetensors"]  # no temp files left

    def no_pickle(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(torch, "load", no_pickle)
    fresh = TiedLM()
    load_checkpoint(tmp_path / "ck", fresh, make_optimizer([fresh], 1e-3))
    assert torch.equal(fresh.emb.weight, model.emb.weight)


def test_mismatched_pair_and_missing_files_are_input_errors(tmp_path):
    model, _ = _trained(0)
    save_checkpoint(tmp_path / "a", model, meta={})
    save_checkpoint(tmp_path / "b", model, meta={})
    (tmp_path / "b.json").replace(tmp_path / "a.json")
    with pytest.raises(InputError, match="does not match"):
        load_checkpoint(tmp_path / "a", TiedLM())
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "missing", TiedLM())
    with pytest.raises(InputError, match="no optimizer state"):
        save_checkpoint(tmp_path / "c", model, meta={})
        m = TiedLM()
        load_checkpoint(tmp_path / "c", m, make_optimizer([m], 1e-3))


def test_malformed_json_is_one_line_input_error(tmp_path):
    model, _ = _trained(0)
    save_checkpoint(tmp_path / "ck", model, meta={"stage": "a"})
    (tmp_path / "ck.json").write_text('{"stage": ')
    with pytest.raises(InputError, match=r"ck\.json: not valid JSON \(Expecting value at line 1\)") as exc:
        load_checkpoint(tmp_path / "ck", TiedLM())
    assert "\n" not in str(exc.value)


def test_truncated_tensors_and_a_non_dict_json_are_one_line_input_errors(tmp_path):
    model, _ = _trained(0)
    save_checkpoint(tmp_path / "ck", model, meta={})
    data = (tmp_path / "ck.safetensors").read_bytes()
    (tmp_path / "ck.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"ck\.safetensors: not a readable checkpoint"):
        load_checkpoint(tmp_path / "ck", TiedLM())
    (tmp_path / "ck.json").write_text("[]")
    with pytest.raises(InputError, match="not a genomic-ulmfit checkpoint"):
        load_checkpoint(tmp_path / "ck", TiedLM())


def test_wrong_model_is_one_line_input_error(tmp_path):
    model, _ = _trained(0)
    save_checkpoint(tmp_path / "ck", model, meta={})
    with pytest.raises(InputError) as exc:
        load_checkpoint(tmp_path / "ck", nn.Linear(3, 3))
    assert "\n" not in str(exc.value)


def test_rng_state_round_trip_through_json():
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    state = json.loads(json.dumps(rng_state()))
    first = (random.random(), np.random.rand(), torch.rand(3))
    set_rng_state(state)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == second[0] and first[1] == second[1] and torch.equal(first[2], second[2])
