"""Learning-rate range test."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from genomic_ulmfit.data.corpus import LMBatches
from genomic_ulmfit.training.loop import LanguageModelTask
from genomic_ulmfit.training.lr_find import lr_find, plot_lr_find, suggest_lrs, sweep_problem


class TinyLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(10, 8)
        self.rnn = nn.GRU(8, 16, batch_first=True)
        self.dec = nn.Linear(16, 10)

    def forward(self, x, state=None):
        out, state = self.rnn(self.emb(x), state)
        return self.dec(out), state


def _data():
    return LMBatches(np.tile(np.arange(3, 10, dtype=np.uint8), 60), batch_size=4, bptt=10, jitter=False)


def test_lr_find_sweeps_up_restores_weights_and_stops_on_divergence(tmp_path):
    model = TinyLM()
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lrs, losses, suggestion = lr_find(model, LanguageModelTask(), _data(), start_lr=1e-5, end_lr=1e3, num_it=60)
    assert np.all(np.diff(lrs) > 0) and lrs[0] == 1e-5
    assert len(losses) == len(lrs) < 60  # a rate of up to 1000 diverges: the sweep stops early
    assert lrs[0] < suggestion < lrs[-1]
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    plot_lr_find(lrs, losses, tmp_path / "lr.png", suggestion=suggestion)
    assert (tmp_path / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_full_sweep_without_stop_div_and_suggestions():
    lrs, losses, _ = lr_find(TinyLM(), LanguageModelTask(), _data(), start_lr=1e-6, end_lr=1e-3, num_it=12,
                             stop_div=False)
    assert len(lrs) == 12
    np.testing.assert_allclose(lrs, 1e-6 * 1000 ** (np.arange(12) / 12))
    lr = np.logspace(-6, 0, 50)
    loss = np.concatenate([np.linspace(3, 1, 30), np.linspace(1, 5, 20)])
    s = suggest_lrs(lr, loss)
    assert s["lr_min"] == lr[29] / 10
    assert lr[5] <= s["lr_steep"] <= lr[29]


def test_sweep_problem_names_a_degenerate_sweep():
    lr = np.logspace(-7, 1, 100)
    good = np.concatenate([np.linspace(0.7, 0.4, 80), np.linspace(0.4, 2.0, 20)])
    assert sweep_problem(lr, good, 100) is None
    assert "stopped after 10 of 100 steps" in sweep_problem(lr[:10], good[:10], 100)
    assert "never fell below its start (0.7)" in sweep_problem(lr, np.linspace(0.7, 0.9, 100), 100)
    assert "stopped after 3" in sweep_problem(lr[:3], np.array([0.7, np.nan, np.nan]), 3)  # one finite point
