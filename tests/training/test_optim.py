"""Parameter groups, fastai AdamW settings and freezing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genomic_ulmfit.training.optim import freeze_to, make_optimizer, param_groups, set_hyper, unfreeze


class Toy(nn.Module):
    """Embedding → Linear+BatchNorm → Linear with the output tied to the embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 6)
        self.body = nn.Sequential(nn.Linear(6, 6), nn.BatchNorm1d(6))
        self.head = nn.Linear(6, 10)
        self.head.weight = self.emb.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(self.emb(x))))

    def layer_groups(self) -> list:
        return [self.emb, self.body, self.head]


def _train(model: Toy, steps: int = 3) -> None:
    opt = make_optimizer(model.layer_groups(), 1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x = torch.randint(0, 10, (8,), generator=g)
        loss = nn.functional.cross_entropy(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_param_groups_weight_decay_and_dedup():
    torch.manual_seed(0)
    model = Toy()
    groups = param_groups(model.layer_groups(), [1e-3, 2e-3, 3e-3], 0.1)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    by_id = {id(p): g for g in groups for p in g["params"]}
    assert by_id[id(model.emb.weight)]["layer_group"] == 0  # tied: first group wins
    assert by_id[id(model.body[0].weight)]["weight_decay"] == 0.1
    assert by_id[id(model.body[0].bias)]["weight_decay"] == 0.0
    assert by_id[id(model.body[1].weight)]["weight_decay"] == 0.0  # BN weight: no wd
    assert by_id[id(model.head.bias)]["lr"] == 3e-3
    with_bn = param_groups(model.layer_groups(), 1e-3, 0.1, wd_bn_bias=True)
    assert all(g["weight_decay"] == 0.1 for g in with_bn)


def test_fastai_adam_settings_and_set_hyper():
    model = Toy()
    opt = make_optimizer(model.layer_groups(), [1e-3, 1e-3, 1e-3], wd=0.01, mom=0.8)
    assert all(g["eps"] == 1e-5 and g["betas"] == (0.8, 0.99) for g in opt.param_groups)
    set_hyper(opt, [1.0, 2.0, 3.0], 0.7)
    assert {(g["layer_group"], g["lr"]) for g in opt.param_groups} == {(0, 1.0), (1, 2.0), (2, 3.0)}
    assert all(g["betas"] == (0.7, 0.99) for g in opt.param_groups)


@pytest.mark.parametrize("train_bn", [True, False])
def test_frozen_groups_do_not_change(train_bn):
    torch.manual_seed(0)
    model = Toy()
    model.head.weight = nn.Parameter(model.emb.weight.detach().clone())  # untie for this test
    freeze_to(model.layer_groups(), -1, train_bn=train_bn)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    _train(model)
    after = dict(model.named_parameters())
    assert torch.equal(before["emb.weight"], after["emb.weight"])
    assert torch.equal(before["body.0.weight"], after["body.0.weight"])
    assert torch.equal(before["body.0.bias"], after["body.0.bias"])
    assert not torch.equal(before["head.weight"], after["head.weight"])
    bn_changed = not torch.equal(before["body.1.weight"], after["body.1.weight"])
    assert bn_changed == train_bn


def test_freeze_to_indices_and_unfreeze():
    model = Toy()
    groups = model.layer_groups()
    freeze_to(groups, 2, train_bn=False)
    assert not model.body[0].weight.requires_grad and not model.body[1].weight.requires_grad
    assert model.head.bias.requires_grad
    assert model.emb.weight.requires_grad  # frozen group 0 but tied to the trainable head
    freeze_to(groups, -2, train_bn=False)  # same as freeze_to(1)
    assert model.body[0].weight.requires_grad and model.head.bias.requires_grad
    freeze_to(groups, 2, train_bn=True)
    assert model.body[1].weight.requires_grad and not model.body[0].weight.requires_grad
    unfreeze(groups)
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError):
        freeze_to(groups, 5)
