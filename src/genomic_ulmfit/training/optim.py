"""Optimiser construction (fastai-style AdamW), parameter groups and layer freezing.

Layer groups are what models return from ``layer_groups()``: a list (in fastai order, input side
first) of groups, each an ``nn.Module``, an ``nn.Parameter`` or a list of those. Each layer group
becomes up to two torch parameter groups — with and without weight decay — tagged with
``"layer_group": i`` so the schedule can set one learning rate per layer group.

Like fastai v2 (``wd_bn_bias=False``), biases and the parameters of normalisation layers get no
weight decay (fastai v1, which Genomic-ULMFiT used, decayed them too: ``bn_wd=True``). A parameter
given bare (not inside a module) counts as a bias when it is 1-D.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.LayerNorm,
    nn.GroupNorm,
)

GroupItem = nn.Module | nn.Parameter
LayerGroups = Sequence[GroupItem | Iterable[GroupItem]]


def _items(group: GroupItem | Iterable[GroupItem]) -> list[GroupItem]:
    if isinstance(group, (nn.Module, nn.Parameter, torch.Tensor)):
        return [group]
    return list(group)


def group_parameters(group: GroupItem | Iterable[GroupItem]) -> list[tuple[nn.Parameter, bool, bool]]:
    """The parameters of one layer group as ``(param, is_norm, is_bias)`` triples, without repeats.

    ``is_norm``: the parameter belongs to a normalisation layer (:data:`NORM_TYPES`).
    ``is_bias``: its name contains ``"bias"`` (e.g. ``bias``, ``bias_ih_l0``), or it is a bare
    1-D parameter.
    """
    out: list[tuple[nn.Parameter, bool, bool]] = []
    seen: set[int] = set()
    for item in _items(group):
        if isinstance(item, nn.Module):
            for module in item.modules():
                is_norm = isinstance(module, NORM_TYPES)
                for name, p in module.named_parameters(recurse=False):
                    if id(p) not in seen:
                        seen.add(id(p))
                        out.append((p, is_norm, "bias" in name))
        elif isinstance(item, torch.Tensor):
            if id(item) not in seen:
                seen.add(id(item))
                out.append((item, False, item.ndim <= 1))
        else:
            raise TypeError(f"layer group items must be modules or parameters, got {type(item).__name__}")
    return out


def param_groups(
    layer_groups: LayerGroups,
    lrs: float | Sequence[float] | np.ndarray,
    wd: float,
    *,
    wd_bn_bias: bool = False,
) -> list[dict[str, Any]]:
    """Torch parameter-group dicts for ``layer_groups``.

    Parameters
    ----------
    layer_groups : list of groups
        Each an ``nn.Module``, ``nn.Parameter`` or list of those (fastai order).
    lrs : float or sequence of float, length n_groups
        Learning rate of each layer group.
    wd : float
        Decoupled weight decay for weights.
    wd_bn_bias : bool, default False
        Also decay biases and normalisation parameters.

    Returns
    -------
    list of dict
        ``{"params", "lr", "weight_decay", "layer_group"}``; a parameter shared by several layer
        groups (tied weights) is kept only in the first one; empty groups are left out.
    """
    n = len(layer_groups)
    lr_arr = np.broadcast_to(np.asarray(lrs, dtype=np.float64), (n,))
    seen: set[int] = set()
    groups: list[dict[str, Any]] = []
    for i, group in enumerate(layer_groups):
        decay, no_decay = [], []
        for p, is_norm, is_bias in group_parameters(group):
            if id(p) in seen:
                continue
            seen.add(id(p))
            (no_decay if (is_norm or is_bias) and not wd_bn_bias else decay).append(p)
        for params, w in ((decay, wd), (no_decay, 0.0)):
            if params:
                groups.append({"params": params, "lr": float(lr_arr[i]), "weight_decay": float(w), "layer_group": i})
    return groups


def make_optimizer(
    layer_groups: LayerGroups,
    lr: float | Sequence[float] | np.ndarray = 1e-3,
    *,
    wd: float = 0.01,
    mom: float = 0.9,
    sqr_mom: float = 0.99,
    eps: float = 1e-5,
    wd_bn_bias: bool = False,
) -> torch.optim.AdamW:
    """AdamW with fastai v2's defaults: ``betas=(mom, 0.99)``, ``eps=1e-5``, true weight decay ``wd``
    (fastai v1 used torch's Adam ``eps=1e-8``).

    The learning rate and ``mom`` are normally overwritten every step by :func:`set_hyper`.
    """
    return torch.optim.AdamW(
        param_groups(layer_groups, lr, wd, wd_bn_bias=wd_bn_bias),
        lr=float(np.max(lr)),
        betas=(mom, sqr_mom),
        eps=eps,
        weight_decay=wd,
    )


def set_hyper(optimizer: torch.optim.Optimizer, lrs: float | np.ndarray, mom: float | None = None) -> None:
    """Set each torch group's lr from ``lrs[group["layer_group"]]`` and Adam's beta1 to ``mom``."""
    lr_arr = np.atleast_1d(np.asarray(lrs, dtype=np.float64))
    for g in optimizer.param_groups:
        i = g.get("layer_group", 0)
        g["lr"] = float(lr_arr[i] if lr_arr.size > 1 else lr_arr[0])
        if mom is not None and "betas" in g:
            g["betas"] = (float(mom), g["betas"][1])


def freeze_to(layer_groups: LayerGroups, n: int, *, train_bn: bool = True) -> None:
    """Freeze the layer groups before index ``n`` and unfreeze the others (fastai ``freeze_to``).

    Parameters
    ----------
    layer_groups : list of groups
        As for :func:`param_groups`.
    n : int
        First trainable group; negative counts from the end (``-1`` trains only the last group,
        ``0`` trains everything).
    train_bn : bool, default True
        Normalisation-layer parameters in frozen groups stay trainable, as in fastai.

    A parameter present in both a frozen and a trainable group (tied weights) stays trainable.
    """
    n_groups = len(layer_groups)
    idx = n if n >= 0 else n_groups + n
    if not 0 <= idx <= n_groups:
        raise ValueError(f"freeze_to({n}) is out of range for {n_groups} layer groups")
    for group in layer_groups[:idx]:
        for p, is_norm, _ in group_parameters(group):
            p.requires_grad_(bool(train_bn and is_norm))
    for group in layer_groups[idx:]:
        for p, _, _ in group_parameters(group):
            p.requires_grad_(True)


def unfreeze(layer_groups: LayerGroups) -> None:
    """Make every parameter of every layer group trainable (``freeze_to(0)``)."""
    freeze_to(layer_groups, 0)
