"""Learning-rate range test (fastai ``lr_find``) and its plot.

The learning rate grows exponentially from ``start_lr`` to ``end_lr`` over ``num_it`` steps
(``lr_i = start_lr * (end_lr / start_lr) ** (i / num_it)``, as fastai). The recorded loss is
fastai's smoothed loss (exponential moving average, ``beta = 0.98``, debiased). The sweep stops
early when the smoothed loss exceeds 4× its minimum (``stop_div``) or is not finite. The model's
weights, train/eval mode and the RNG states are restored afterwards.

The returned suggestion is **min/10**: the learning rate at the minimum smoothed loss divided by
10 (fastai's ``lr_min``), ignoring the first 10 % and the last 5 points. :func:`suggest_lrs` also
gives the steepest-descent point (fastai's ``lr_steep``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.training import optim as _optim
from genomic_ulmfit.training.checkpoint import rng_state, set_rng_state
from genomic_ulmfit.training.loop import (
    BatchSource,
    Task,
    resolve_amp,
    resolve_layer_groups,
    to_device,
    train_step,
)
from genomic_ulmfit.utils import atomic_path, resolve_device, set_seed


def _forever(data: BatchSource) -> Iterator[Any]:
    """Batches of ``data`` epoch after epoch."""
    epoch = 0
    while True:
        n = 0
        for b in data.batches(epoch):
            n += 1
            yield b
        if n == 0:
            raise ConfigError("lr_find: the data yields no batches; use more data or a smaller batch size")
        epoch += 1


def suggest_lrs(lrs: np.ndarray, losses: np.ndarray) -> dict[str, float]:
    """fastai's suggestions from a sweep: ``lr_min`` (min/10) and ``lr_steep`` (steepest descent).

    Parameters
    ----------
    lrs, losses : np.ndarray, shape (n,)
        Learning rates and smoothed losses of :func:`lr_find`.
    """
    lrs, losses = np.asarray(lrs, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    n = len(lrs)
    lo, hi = n // 10, (n - 5 if n - 5 > n // 10 + 1 else n)
    x, y = lrs[lo:hi], losses[lo:hi]
    if len(x) == 0:
        return {"lr_min": float("nan"), "lr_steep": float("nan")}
    lr_min = float(x[np.nanargmin(y)]) / 10
    if len(x) < 2:
        return {"lr_min": lr_min, "lr_steep": float(x[0])}
    grads = np.diff(y) / np.diff(np.log(x))
    return {"lr_min": lr_min, "lr_steep": float(x[np.nanargmin(grads)])}


def sweep_problem(lrs: np.ndarray, losses: np.ndarray, num_it: int) -> str | None:
    """Why a sweep's suggestion cannot be trusted, or None when it looks usable.

    A sweep is degenerate when it stopped within its first fifth (the loss diverged or became
    non-finite almost at once), or when the smoothed loss never fell 2% below where it started
    (nothing was learnt at any rate tried: too few steps, or too little data).
    """
    lrs, losses = np.asarray(lrs, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    finite = losses[np.isfinite(losses)]
    if len(lrs) < max(2, num_it // 5) or len(finite) < 2:
        return f"the sweep stopped after {len(lrs)} of {num_it} steps (the loss diverged at once)"
    if finite.min() > 0.98 * finite[0]:
        return f"the smoothed loss never fell below its start ({finite[0]:.3g}) over {len(lrs)} steps"
    return None


def lr_find(
    model: nn.Module,
    task: Task,
    train_data: BatchSource,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_it: int = 100,
    stop_div: bool = True,
    layer_groups: list | None = None,
    wd: float = 0.01,
    mom: float = 0.9,
    clip: float | None = None,
    device: str | torch.device | None = None,
    amp: bool | str | None = None,
    beta: float = 0.98,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Exponential learning-rate sweep; returns ``(lrs, smoothed_losses, suggestion)``.

    Parameters
    ----------
    model : nn.Module
        Trained during the sweep, restored afterwards (weights, mode).
    task : Task
        E.g. :class:`~genomic_ulmfit.training.loop.LanguageModelTask`.
    train_data : BatchSource
        Cycled through as many epochs as ``num_it`` needs.
    start_lr, end_lr : float, default 1e-7, 10
        Sweep range; the same rate for every layer group.
    num_it : int, default 100
        Maximum number of steps.
    stop_div : bool, default True
        Stop when the smoothed loss exceeds 4× its minimum.
    layer_groups : list, optional
        Defaults to ``model.layer_groups()``; frozen parameters stay frozen.
    wd, mom, clip : optimiser settings (AdamW, fastai defaults).
    device, amp : as in :func:`~genomic_ulmfit.training.loop.fit_one_cycle`.
    beta : float, default 0.98
        Smoothing of the loss.
    seed : int, default 0

    Returns
    -------
    lrs : np.ndarray of float64, shape (m,), increasing (m <= num_it)
    losses : np.ndarray of float64, shape (m,)
    suggestion : float
        min/10 (see :func:`suggest_lrs`).
    """
    if not 0 < start_lr < end_lr:
        raise ConfigError(f"lr_find: need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if num_it < 2:
        raise ConfigError(f"lr_find: num_it must be at least 2, got {num_it}")
    device = resolve_device(device) if not isinstance(device, torch.device) else device
    groups = resolve_layer_groups(model, layer_groups)
    saved = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    saved_rng = rng_state()
    was_training = model.training
    model.to(device)
    set_seed(seed)
    optimizer = _optim.make_optimizer(groups, start_lr, wd=wd, mom=mom)
    amp_dtype = resolve_amp(amp, device)
    scaler = torch.amp.GradScaler(device.type) if amp_dtype == torch.float16 else None
    lrs: list[float] = []
    losses: list[float] = []
    avg, best = 0.0, math.inf
    try:
        model.train()
        task.reset()
        batches = _forever(train_data)
        for i in range(num_it):
            lr = start_lr * (end_lr / start_lr) ** (i / num_it)
            _optim.set_hyper(optimizer, lr, mom)
            batch = to_device(next(batches), device)
            _, stats = train_step(model, task, batch, optimizer, amp_dtype=amp_dtype, scaler=scaler,
                                   clip=clip, device=device)
            loss = float(stats["loss"])
            avg = beta * avg + (1 - beta) * loss
            smooth = avg / (1 - beta ** (i + 1))
            lrs.append(lr)
            losses.append(smooth)
            if not math.isfinite(smooth):
                break
            best = min(best, smooth)
            if stop_div and smooth > 4 * best:
                break
    finally:
        task.reset()
        model.load_state_dict(saved)
        model.train(was_training)
        set_rng_state(saved_rng)
    lr_arr, loss_arr = np.array(lrs), np.array(losses)
    return lr_arr, loss_arr, suggest_lrs(lr_arr, loss_arr)["lr_min"]


def plot_lr_find(
    lrs: np.ndarray,
    losses: np.ndarray,
    path: str | os.PathLike,
    *,
    suggestion: float | None = None,
    skip_end: int = 5,
) -> None:
    """Save the loss-vs-learning-rate curve (log x axis) as a PNG at ``path`` (Agg, no display).

    Parameters
    ----------
    lrs, losses : np.ndarray, shape (n,)
    path : path of the PNG
    suggestion : float, optional
        Marked with a vertical line.
    skip_end : int, default 5
        Leave out the last points (the divergence), as fastai.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(lrs) - skip_end if len(lrs) > skip_end + 1 else len(lrs)
    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(lrs[:n], losses[:n])
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss (smoothed)")
    if suggestion is not None and np.isfinite(suggestion):
        ax.axvline(suggestion, color="tab:red", linestyle="--", label=f"suggestion {suggestion:.1e}")
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
