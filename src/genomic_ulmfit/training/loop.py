"""One training loop for LM pretraining, LM fine-tuning and classifiers.

:func:`fit_one_cycle` trains ``model`` for ``epochs`` with fastai's one-cycle policy over AdamW,
discriminative learning rates across layer groups and optional freezing. What differs between
a language model and a classifier lives in a :class:`Task` (how to compute the loss of a batch).

Data objects (``train_data``, ``valid_data``) have ``__len__`` (batches per epoch) and
``batches(epoch)`` returning an iterator of batches — dicts ``{"x", "y", "n_tokens"?}`` of host
tensors, or ``(x, y)`` tuples — whose order is a function of (seed, epoch) only. They may define
``num_batches(epoch)`` when the count varies per epoch (LM length jitter). The loop moves one
batch at a time to the device.

With ``out_dir`` the loop writes, after every epoch::

    out_dir/checkpoints/last.{safetensors,json}      model + optimiser + schedule step + RNG states
    out_dir/checkpoints/best.{safetensors,json}      model at the best epoch by ``select_metric``
    out_dir/checkpoints/stage-<name>.{…}             model at the end of each completed stage
    out_dir/metrics.jsonl                            one JSON line per epoch, all stages

and, in an epoch that runs longer than ``checkpoint_minutes`` (default 10), ``last`` again every
``checkpoint_minutes`` with where the epoch stands (``mid_epoch``: batches done, running means, the
task's carried state).

``resume=True`` continues a stage from ``last`` (exactly: same losses as an uninterrupted run) or
skips a completed stage by loading ``stage-<name>``. Several calls with different ``stage_name``
into the same ``out_dir`` form one run (gradual unfreezing); ``resume=False`` restarts
``stage_name`` and forgets it and every stage recorded after it. The caller (CLI) is expected to
give a fresh ``out_dir`` or ``resume=True``; stale stages of an unrelated run would be kept.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genomic_ulmfit.config import AMP_ENV, check_amp_mode
from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.training import optim as _optim
from genomic_ulmfit.training.checkpoint import (
    checkpoint_exists,
    load_checkpoint,
    load_extra,
    read_meta,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from genomic_ulmfit.training.schedules import LR, lr_range, one_cycle
from genomic_ulmfit.utils import resolve_device, set_seed, write_text_atomic

Batch = dict[str, Any]


class BatchSource(Protocol):
    """What the loop needs from training/validation data."""

    def __len__(self) -> int: ...

    def batches(self, epoch: int) -> Iterator[Any]: ...


# ---------------------------------------------------------------------------- tasks
class Task(ABC):
    """How to compute the loss of one batch.

    ``loss(model, batch)`` returns ``(loss, n_items, stats)``: the scalar tensor to minimise, the
    number of items it averages over (tokens or sequences) and a dict of scalar tensors/floats
    averaged over the epoch weighted by ``n_items``. ``stats["loss"]``, when present, is the
    reported loss (e.g. without regularisation terms); ``stats["accuracy"]`` is shown in the
    progress bar. A classifier may add ``stats["logits"]`` (B, C) and ``stats["targets"]`` (B,)
    so that ``metrics_fn`` can see all validation outputs. ``reset()`` runs at the start of every
    training epoch and of every evaluation.
    """

    @abstractmethod
    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, int, dict[str, Any]]:
        """Loss of ``batch`` (on the model's device) → ``(loss, n_items, stats)``."""

    def reset(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Forget any state carried between batches."""

    def carried_state(self) -> Any:
        """The state carried to the next batch (nested lists/tuples/dicts of tensors), or None.

        Saved with a checkpoint taken in the middle of an epoch, so that a resumed run continues
        exactly where it stopped."""
        return None

    def restore_state(self, state: Any) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Take back a state returned by :meth:`carried_state`."""


def pack_state(state: Any, prefix: str = "state") -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested list/tuple/dict of tensors into a JSON-able skeleton and named tensors.

    :func:`unpack_state` rebuilds it; used to checkpoint a task's carried state with safetensors.

    Examples
    --------
    >>> skeleton, tensors = pack_state([(torch.zeros(1), torch.ones(1))])
    >>> skeleton
    {'list': [{'tuple': [{'tensor': 'state.0'}, {'tensor': 'state.1'}]}]}
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, torch.Tensor):
            name = f"{prefix}.{len(tensors)}"
            tensors[name] = v.detach()
            return {"tensor": name}
        if isinstance(v, (list, tuple)):
            return {"tuple" if isinstance(v, tuple) else "list": [walk(x) for x in v]}
        if isinstance(v, dict):
            return {"dict": {str(k): walk(x) for k, x in v.items()}}
        raise TypeError(f"cannot checkpoint a carried state holding {type(v).__name__}")

    return walk(state), tensors


def unpack_state(skeleton: Any, tensors: dict[str, torch.Tensor], device: torch.device | str = "cpu") -> Any:
    """The nested state :func:`pack_state` split into ``skeleton`` and ``tensors``, on ``device``."""
    if skeleton is None:
        return None
    if "tensor" in skeleton:
        return tensors[skeleton["tensor"]].to(device)
    if "dict" in skeleton:
        return {k: unpack_state(v, tensors, device) for k, v in skeleton["dict"].items()}
    items = [unpack_state(v, tensors, device) for v in skeleton.get("tuple", skeleton.get("list", []))]
    return tuple(items) if "tuple" in skeleton else items


def detach_state(state: Any) -> Any:
    """Detach every tensor in a nested tuple/list/dict of recurrent states."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (list, tuple)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, dict):
        return {k: detach_state(v) for k, v in state.items()}
    return state


def _last(v: Any) -> torch.Tensor | None:
    if isinstance(v, (list, tuple)):
        return v[-1] if v else None
    return v


def _extras_outputs(extras: Any) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(raw output, dropped-out output) of the last RNN layer from a model's ``extras``.

    Accepts a dict with ``raw`` (or ``raw_outputs``/``raw_out``) and ``dropped`` (or ``outputs``/
    ``dropped_outputs``/``dropped_out``/``out``) — each a tensor (B, T, H) or a per-layer list whose
    last item is used — or a 2-tuple ``(raw, dropped)``.
    """
    if isinstance(extras, dict):
        raw = next((extras[k] for k in ("raw", "raw_outputs", "raw_out") if k in extras), None)
        out = next(
            (extras[k] for k in ("dropped", "outputs", "dropped_outputs", "dropped_out", "out") if k in extras), None
        )
        return _last(raw), _last(out)
    if isinstance(extras, (list, tuple)) and len(extras) == 2:
        return _last(extras[0]), _last(extras[1])
    return None, None


class LanguageModelTask(Task):
    """Next-token cross-entropy with AWD-LSTM's activation regularisation.

    The model is called as ``model(x, state)`` and returns ``(logits (B, T, V), new_state, extras)``
    (or ``(logits, new_state)``, or just logits). The recurrent state is carried between batches,
    detached, and reset at every epoch start. In training mode, when ``extras`` provide them, the
    loss adds ``ar_alpha * mean(dropped_out**2)`` (AR) and ``tar_beta * mean((h[:, 1:] - h[:, :-1])**2)``
    on the raw output (TAR), as fastai's ``RNNRegularizer``; the reported ``loss`` stays the plain
    cross-entropy.

    Parameters
    ----------
    ar_alpha : float, default 2.0
    tar_beta : float, default 1.0
    """

    def __init__(self, ar_alpha: float = 2.0, tar_beta: float = 1.0):
        self.ar_alpha = ar_alpha
        self.tar_beta = tar_beta
        self.state: Any = None

    def reset(self) -> None:
        self.state = None

    def carried_state(self) -> Any:
        return self.state

    def restore_state(self, state: Any) -> None:
        self.state = state

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, int, dict[str, Any]]:
        x, y = batch["x"], batch["y"]  # (B, T) int64 each
        out = model(x, self.state)
        extras = None
        if isinstance(out, (tuple, list)):
            logits = out[0]
            if len(out) > 1:
                self.state = detach_state(out[1])
            if len(out) > 2:
                extras = out[2]
        else:
            logits = out
        logits = logits.float()  # (B, T, V)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss = ce
        stats: dict[str, Any] = {"loss": ce.detach()}
        if model.training and extras is not None:
            loss = _add_ar_tar(loss, stats, extras, self.ar_alpha, self.tar_beta)
        stats["accuracy"] = (logits.detach().argmax(-1) == y).float().mean()
        return loss, y.numel(), stats


def _add_ar_tar(loss: torch.Tensor, stats: dict[str, Any], extras: Any, ar_alpha: float,
                tar_beta: float) -> torch.Tensor:
    """``loss`` plus ``ar_alpha`` × AR and ``tar_beta`` × TAR of the model's ``extras`` (the terms
    whose weight is not 0 and whose outputs the model gives), each also put in ``stats``. A ``mask``
    in ``extras`` limits both to real positions (see :func:`~genomic_ulmfit.models.awd_lstm.ar_term`)."""
    from genomic_ulmfit.models.awd_lstm import ar_term, tar_term

    raw, dropped = _extras_outputs(extras)
    mask = extras.get("mask") if isinstance(extras, dict) else None
    if ar_alpha and dropped is not None:
        ar = ar_term(dropped, mask)
        loss = loss + ar_alpha * ar
        stats["ar"] = ar.detach()
    if tar_beta and raw is not None and raw.shape[1] > 1:
        tar = tar_term(raw, mask)
        loss = loss + tar_beta * tar
        stats["tar"] = tar.detach()
    return loss


class ClassificationTask(Task):
    """Cross-entropy and accuracy of a classifier ``model(x) -> logits (B, C)``.

    A tuple output uses its first item. ``stats`` carry ``logits`` and ``targets`` for
    ``metrics_fn``; the reported ``loss`` is the plain cross-entropy.

    Parameters
    ----------
    ar_alpha, tar_beta : float, default 0.0
        Weights of AWD-LSTM's activation regularisation (AR, TAR) added to the training loss, as
        fastai does for its text classifiers (with 2 and 1). When either is set, training batches
        call ``model(x, return_outputs=True)``, which must return ``(logits, extras)`` as
        :class:`~genomic_ulmfit.models.awd_lstm.ULMFiTClassifier` does.
    """

    def __init__(self, ar_alpha: float = 0.0, tar_beta: float = 0.0):
        self.ar_alpha = ar_alpha
        self.tar_beta = tar_beta

    def loss(self, model: nn.Module, batch: Batch) -> tuple[torch.Tensor, int, dict[str, Any]]:
        x, y = batch["x"], batch["y"]
        regularise = model.training and bool(self.ar_alpha or self.tar_beta)
        out = model(x, return_outputs=True) if regularise else model(x)
        logits = (out[0] if isinstance(out, (tuple, list)) else out).float()  # (B, C)
        ce = F.cross_entropy(logits, y)
        stats = {"loss": ce.detach()}
        loss = _add_ar_tar(ce, stats, out[1], self.ar_alpha, self.tar_beta) if regularise else ce
        acc = (logits.detach().argmax(-1) == y).float().mean()
        return loss, int(y.shape[0]), {**stats, "accuracy": acc, "logits": logits.detach(), "targets": y}


def auroc_metrics(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """``metrics_fn`` for binary classifiers: AUROC and average precision of softmax P(class 1).

    Parameters
    ----------
    logits : torch.Tensor, shape (n, 2)
    targets : torch.Tensor of int, shape (n,)
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = targets.cpu().numpy()
    p = torch.softmax(logits.float(), dim=-1)[:, 1].cpu().numpy()
    if len(np.unique(y)) < 2:
        return {"auroc": float("nan"), "average_precision": float("nan")}
    return {"auroc": float(roc_auc_score(y, p)), "average_precision": float(average_precision_score(y, p))}


# ---------------------------------------------------------------------------- helpers
@dataclass
class FitResult:
    """Outcome of one :func:`fit_one_cycle` stage.

    Attributes
    ----------
    stage : str
    history : list of dict
        One record per epoch of this stage (the lines of ``metrics.jsonl``).
    best : dict or None
        ``{"metric", "mode", "value", "stage", "epoch"}`` of the best epoch so far in the run.
    steps : int
        Optimisation steps of the stage.
    skipped : bool
        The stage was already complete and was restored from its checkpoint.
    stopped_early : bool
        ``on_epoch_end`` asked to stop.
    """

    stage: str
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    steps: int = 0
    skipped: bool = False
    stopped_early: bool = False


def num_batches(data: BatchSource, epoch: int) -> int:
    """Batches of ``data`` in ``epoch``: ``data.num_batches(epoch)`` when defined, else ``len(data)``."""
    fn = getattr(data, "num_batches", None)
    return int(fn(epoch)) if callable(fn) else len(data)


def to_device(batch: Any, device: torch.device) -> Batch:
    """A batch as a dict with its tensors on ``device`` (``(x, y)`` tuples become ``{"x", "y"}``)."""
    if isinstance(batch, (tuple, list)):
        batch = {"x": batch[0], "y": batch[1]}
    return {
        k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()
    }


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 matrix instructions that oneDNN uses natively: Intel AMX tiles, or
    AVX512-BF16 (e.g. AMD Zen 4, Intel Cooper Lake and later). bf16 autocast measured faster than
    fp32 on both (benchmarks/amp_speed.py): 2.6–3.6× on an AMX Xeon, 1.35–2.1× on an AVX512-BF16
    AMD EPYC; elsewhere oneDNN would emulate bf16."""
    cpu = getattr(torch, "cpu", None)
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        check = getattr(cpu, name, None)
        try:
            if check is not None and check():
                return True
        except Exception:  # pragma: no cover - private torch API; absent or failing means no
            pass
    return False


def amp_mode() -> str:
    """The autocast mode asked for by ``$GENOMIC_ULMFIT_AMP`` (``genomic-ulmfit --amp``); default auto."""
    return check_amp_mode(os.environ.get(AMP_ENV, "auto"))


def resolve_amp(amp: bool | str | None, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for ``device``, or ``None`` for full fp32.

    ``None`` takes the mode from :func:`amp_mode` (``$GENOMIC_ULMFIT_AMP``, default ``"auto"``).
    ``"auto"``: bf16 on CUDA (fp16 without bf16 support) and on CPUs with native bf16 matrix
    units (:func:`cpu_has_native_bf16`: AMX or AVX512-BF16; on an AMX Xeon 2.6–2.8× faster AWD-LSTM
    training and 3.5–3.6× faster inference, on an AVX512-BF16 AMD EPYC 1.35–1.8× and 1.8–2.1×, same
    LM loss, see benchmarks/amp_speed.py), fp32 on other CPUs (where bf16 would be emulated). ``False``/``"off"`` = fp32;
    ``True`` = as auto but bf16 on any CPU; ``"bf16"`` forced; ``"fp16"`` forced, CUDA only (the
    CPU LSTM has no fp16 kernel). Weights, optimiser state and losses stay fp32 in every mode."""
    if amp is None:
        amp = amp_mode()
    if amp is False or amp == "off":
        return None
    if amp in ("bf16", "bfloat16"):
        return torch.bfloat16
    if amp in ("fp16", "float16"):
        if device.type != "cuda":
            # torch's CPU LSTM (oneDNN) has no fp16 kernel: the first ULMFiT batch would fail
            raise ConfigError(f"fp16 autocast runs on CUDA only, not on {device.type}; use --amp bf16 or --amp off "
                              f"(or unset {AMP_ENV})")
        return torch.float16
    if amp == "auto" or amp is True:
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if (amp is True or cpu_has_native_bf16()) else None
    raise ConfigError(f"amp={amp!r} is not allowed; use None (auto), True, False, 'auto', 'off', 'bf16' or 'fp16'")


def amp_name(device: str | torch.device | None = None) -> str:
    """What :func:`resolve_amp` (default mode) gives on ``device``, as ``"bf16"``/``"fp16"``/``"off"``
    — for run records and fit keys (a bf16 fit and an fp32 fit are different fits)."""
    device = resolve_device(device) if not isinstance(device, torch.device) else device
    return _amp_label(resolve_amp(None, device))


def _amp_label(dtype: torch.dtype | None) -> str:
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "off")


def resolve_layer_groups(model: nn.Module, layer_groups: list | None) -> list:
    if layer_groups is None:
        layer_groups = model.layer_groups() if hasattr(model, "layer_groups") else [model]
    covered = {id(p) for g in layer_groups for p, _, _ in _optim.group_parameters(g)}
    missing = [n for n, p in model.named_parameters() if id(p) not in covered]
    if missing:
        raise ValueError(f"parameters not in any layer group: {', '.join(missing[:5])}")
    return list(layer_groups)


class _Averager:
    """Weighted running means of scalar stats, kept on the device until read."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor | float] = {}
        self.count = 0

    def add(self, n: int, stats: dict[str, Any]) -> None:
        self.count += n
        for k, v in stats.items():
            if k in ("logits", "targets"):
                continue
            v = v.detach().double() if isinstance(v, torch.Tensor) else float(v)
            self.sums[k] = self.sums.get(k, 0.0) + v * n

    def means(self) -> dict[str, float]:
        c = max(self.count, 1)
        return {k: float(v) / c for k, v in self.sums.items()}

    def to_dict(self) -> dict[str, Any]:
        """Count and sums as JSON (float64 sums, so a restored average continues exactly)."""
        return {"count": self.count, "sums": {k: float(v) for k, v in self.sums.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Averager:
        avg = cls()
        avg.count, avg.sums = int(d["count"]), dict(d["sums"])
        return avg


def train_step(
    model: nn.Module,
    task: Task,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    *,
    amp_dtype: torch.dtype | None,
    scaler: torch.amp.GradScaler | None,
    clip: float | None,
    device: torch.device,
) -> tuple[int, dict[str, Any]]:
    """One optimisation step; returns ``(n_items, stats)`` (stats["loss"] defaults to the loss)."""
    with torch.autocast(device_type=device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        loss, n, stats = task.loss(model, batch)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], clip)
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], clip)
        optimizer.step()
    stats = dict(stats)
    stats.setdefault("loss", loss.detach())
    return n, stats


def _train_epoch(
    model: nn.Module,
    task: Task,
    batches: Iterator[Any],
    optimizer: torch.optim.Optimizer,
    schedule: Callable[[int], tuple[Any, float]],
    step: int,
    *,
    amp_dtype: torch.dtype | None,
    scaler: torch.amp.GradScaler | None,
    clip: float | None,
    device: torch.device,
    on_batch: Callable[[int, _Averager, int, float], None] | None = None,
    start: int = 0,
    avg: _Averager | None = None,
    n_tokens: int = 0,
    task_state: Any = None,
) -> tuple[dict[str, float], int, float, int]:
    """Train over ``batches``, setting lr/momentum from ``schedule(step)`` before every step.

    A resumed epoch passes the ``batches`` left after its first ``start`` ones, and the running
    ``avg``, ``n_tokens`` and the task's carried ``task_state`` at that point.
    Returns ``(mean stats, tokens seen, last lr of the last group, next step)``.
    """
    model.train()
    task.reset()
    if task_state is not None:
        task.restore_state(task_state)
    avg = avg if avg is not None else _Averager()
    lr_now = float("nan")
    for i, raw in enumerate(batches, start):
        lr_t, mom = schedule(step)
        _optim.set_hyper(optimizer, lr_t, mom)
        lr_now = float(np.atleast_1d(lr_t)[-1])
        batch = to_device(raw, device)
        n, stats = train_step(model, task, batch, optimizer, amp_dtype=amp_dtype, scaler=scaler, clip=clip,
                              device=device)
        avg.add(n, stats)
        n_tokens += int(batch.get("n_tokens", 0))
        step += 1
        if on_batch is not None:
            on_batch(i, avg, n_tokens, lr_now)
    return avg.means(), n_tokens, lr_now, step


@torch.no_grad()
def evaluate(
    model: nn.Module,
    task: Task,
    data: BatchSource,
    *,
    epoch: int = 0,
    device: str | torch.device | None = None,
    amp: bool | str | None = None,
    metrics_fn: Callable[[torch.Tensor, torch.Tensor], dict[str, float]] | None = None,
) -> dict[str, float]:
    """Mean loss and stats of ``model`` over ``data`` in eval mode; restores the caller's mode.

    Returns
    -------
    dict
        ``{"loss", "accuracy"?, ...stats, ...metrics_fn(all_logits, all_targets)}``.
    """
    device = resolve_device(device) if not isinstance(device, torch.device) else device
    amp_dtype = resolve_amp(amp, device)
    was_training = model.training
    model.eval()
    task.reset()
    avg = _Averager()
    logits, targets = [], []
    try:
        for raw in data.batches(epoch):
            batch = to_device(raw, device)
            with torch.autocast(device_type=device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                loss, n, stats = task.loss(model, batch)
            stats = dict(stats)
            stats.setdefault("loss", loss)
            avg.add(n, stats)
            if metrics_fn is not None and "logits" in stats:
                logits.append(stats["logits"].float().cpu())
                targets.append(stats["targets"].cpu())
    finally:
        task.reset()
        model.train(was_training)
    out = avg.means()
    if metrics_fn is not None and logits:
        out.update(metrics_fn(torch.cat(logits), torch.cat(targets)))
    return out


def _metric_key(name: str, record: dict[str, Any]) -> str:
    for key in (name, f"valid_{name}"):
        if key in record:
            return key
    avail = ", ".join(k for k in record if k.startswith(("valid_", "train_")))
    raise ConfigError(f"select_metric={name!r} is not among the epoch metrics; available: {avail}")


def _better(value: float, best: float | None, mode: str) -> bool:
    if not math.isfinite(value):
        return False
    return best is None or (value < best if mode == "min" else value > best)


def _progress_bar(enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        disable=not enabled,
    )


def _info(means: dict[str, float], tok_s: float | None, lr: float) -> str:
    parts = [f"loss {means.get('loss', float('nan')):.4f}"]
    if "accuracy" in means:
        parts.append(f"acc {means['accuracy']:.3f}")
    if tok_s:
        parts.append(f"{tok_s / 1000:.1f}k tok/s")
    parts.append(f"lr {lr:.2e}")
    return " ".join(parts)


def _epoch_info(record: dict[str, Any]) -> str:
    """Short end-of-epoch summary, e.g. ``train 0.41 valid 0.38 acc 0.87 auroc 0.93``."""
    short = {"valid_loss": "valid", "valid_accuracy": "acc"}
    parts = [f"train {record.get('train_loss', float('nan')):.4f}"]
    for k, v in record.items():
        if k.startswith("valid_") and k != "valid_perplexity" and isinstance(v, float):
            parts.append(f"{short.get(k, k[len('valid_'):])} {v:.4f}")
    return " ".join(parts)


# ---------------------------------------------------------------------------- run state on disk
def _ckpt(out_dir: Path, name: str) -> Path:
    return out_dir / "checkpoints" / name


def _check_same_run(out_dir: Path | None, last: dict[str, Any] | None, meta: dict[str, Any] | None) -> None:
    """Refuse to resume a run of another model kind (say a CNN run directory resumed as ULMFiT), or
    one whose recorded ``settings`` (data, tokens, schedule, seed: whatever the caller put there)
    differ from this call's: its first epochs would have trained on something else."""
    old = (last or {}).get("meta") or {}
    was, now = old.get("kind"), (meta or {}).get("kind")
    if was and now and was != now:
        raise ConfigError(f"{out_dir}: holds a {was} run, not {now}; resume it as {was} or choose a new --out")
    before, after = _flat(old.get("settings")), _flat((meta or {}).get("settings"))
    if before and after:
        for key in [*after, *(k for k in before if k not in after)]:  # in the caller's order
            if before.get(key) != after.get(key):
                what = (f"{key} = {before.get(key)!r}, this one has {after.get(key)!r}" if not key.endswith("sha256")
                        else "another encoder (its lm.json differs)" if key.endswith("encoder_sha256")
                        else f"other data ({key} differs)")
                raise ConfigError(f"{out_dir}: the stopped run was started with {what}; resume with the same "
                                  "settings, or start afresh without --resume")


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}`` (lists compared whole; tuples as lists, as JSON reads them)."""
    if not isinstance(d, dict):
        return {}
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return out


def _run_state(out_dir: Path | None) -> dict[str, Any]:
    """Stages, history and best of the run in ``out_dir`` (from ``last.json``), or an empty state."""
    empty: dict[str, Any] = {"stages": [], "history": [], "best": None}
    if out_dir is None or not checkpoint_exists(_ckpt(out_dir, "last")):
        return empty
    meta = read_meta(_ckpt(out_dir, "last"))
    return {"stages": meta.get("stages", []), "history": meta.get("history", []), "best": meta.get("best"), "last": meta}


def trained_seconds(out_dir: Path) -> float:
    """Seconds the run in ``out_dir`` has trained so far: its finished epochs, plus the part of an
    epoch that a mid-epoch checkpoint saved (0.0 for no run)."""
    run = _run_state(Path(out_dir))
    mid = (run.get("last") or {}).get("mid_epoch") or {}
    return float(sum(r.get("seconds") or 0.0 for r in run["history"]) + mid.get("seconds", 0.0))


def clear_run_state(out_dir: Path) -> None:
    """Remove the run state (``checkpoints/``, ``metrics.jsonl``) that training left in ``out_dir``."""
    out_dir = Path(out_dir)
    if (out_dir / "checkpoints").is_dir():
        shutil.rmtree(out_dir / "checkpoints")
    (out_dir / "metrics.jsonl").unlink(missing_ok=True)


def _write_metrics(out_dir: Path, history: list[dict[str, Any]]) -> None:
    write_text_atomic(out_dir / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in history))


# ---------------------------------------------------------------------------- fit
def fit_one_cycle(
    model: nn.Module,
    task: Task,
    train_data: BatchSource,
    valid_data: BatchSource | None = None,
    *,
    epochs: int,
    lr: LR,
    moms: tuple[float, float, float] = (0.8, 0.7, 0.8),
    wd: float = 0.01,
    pct_start: float = 0.25,
    div: float = 25.0,
    div_final: float = 1e5,
    layer_groups: list | None = None,
    freeze_to: int | None = None,
    train_bn: bool = True,
    clip: float | None = 0.1,
    device: str | torch.device | None = None,
    amp: bool | str | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    stage_name: str = "stage",
    select_metric: str | None = None,
    select_mode: str | None = None,
    restore_best: bool = False,
    metrics_fn: Callable[[torch.Tensor, torch.Tensor], dict[str, float]] | None = None,
    on_epoch_end: Callable[[dict[str, Any]], bool | None] | None = None,
    meta: dict[str, Any] | None = None,
    progress: bool = True,
    seed: int = 0,
    checkpoint_minutes: float | None = 10.0,
) -> FitResult:
    """Train ``model`` with the one-cycle policy (fastai ``fit_one_cycle``).

    Parameters
    ----------
    model : nn.Module
        Trained in place; ``model.layer_groups()`` is used when ``layer_groups`` is None.
    task : Task
        :class:`LanguageModelTask`, :class:`ClassificationTask` or your own.
    train_data, valid_data : BatchSource
        ``len()`` and ``batches(epoch)``; ``valid_data`` optional.
    epochs : int
        Epochs of the cycle.
    lr : LR
        Peak learning rate(s): float, ``(lo, hi)`` or per-group list (see ``schedules``).
    moms : (float, float, float), default (0.8, 0.7, 0.8)
        Adam beta1 at start, peak and end (ULMFiT's values).
    wd : float, default 0.01
        Decoupled weight decay (not on biases and norm layers).
    pct_start, div, div_final : float
        One-cycle shape, fastai defaults 0.25, 25, 1e5.
    layer_groups : list, optional
        Overrides ``model.layer_groups()``; must cover every parameter.
    freeze_to : int, optional
        Apply ``optim.freeze_to(groups, freeze_to, train_bn=train_bn)`` first; None leaves
        ``requires_grad`` as it is.
    clip : float or None, default 0.1
        Max gradient norm.
    device : str or torch.device, optional
        Auto (CUDA when present) by default.
    amp : None, bool or str
        See :func:`resolve_amp` (auto: bf16/fp16 autocast on CUDA, with GradScaler for fp16, and
        bf16 on CPUs with native bf16 matrix units).
    out_dir : path, optional
        Checkpoints and ``metrics.jsonl`` (see module docstring).
    resume : bool, default False
        Continue from ``out_dir``'s checkpoints.
    stage_name : str, default "stage"
        Name of this stage within the run.
    select_metric : str, optional
        Epoch metric defining ``best`` (``"valid_loss"``, ``"accuracy"`` → ``valid_accuracy``,
        ``"auroc"``...); default ``"valid_loss"`` when there is validation data.
    select_mode : "min" or "max", optional
        Default "min" for losses/perplexity, else "max".
    restore_best : bool, default False
        Load the best weights into ``model`` at the end of the stage (also when the stage is
        skipped on resume). With ``out_dir`` that is the run's best (``best.*``, possibly from an
        earlier stage); without, the best epoch of this stage (kept in memory).
    metrics_fn : callable, optional
        ``metrics_fn(all_logits, all_targets) -> dict`` on validation outputs, e.g.
        :func:`auroc_metrics`.
    on_epoch_end : callable, optional
        ``on_epoch_end(record)`` after each epoch's checkpoint; returning True stops the stage.
    meta : dict, optional
        JSON-able run metadata (model config, tokenizer…) stored in every checkpoint.
    progress : bool, default True
        Show a rich progress bar.
    seed : int, default 0
        Seeds Python/NumPy/torch at the start of the stage (dropout etc.).
    checkpoint_minutes : float or None, default 10
        With ``out_dir``, also save ``last`` in the middle of an epoch once this many minutes
        have passed since the last save, so that an interrupted long epoch (an LM pretraining
        epoch can take hours on a CPU) resumes from that batch, exactly: the batches already
        trained are skipped, and the running epoch means, the task's carried state (the LM's
        hidden state) and the RNG states are restored. None saves at epoch ends only.

    Returns
    -------
    FitResult
    """
    if epochs < 1:
        raise ConfigError(f"epochs={epochs} must be at least 1")
    device = resolve_device(device) if not isinstance(device, torch.device) else device
    out = Path(out_dir) if out_dir is not None else None
    groups = resolve_layer_groups(model, layer_groups)
    model.to(device)

    # ---- run state: skip a completed stage, or forget this stage and later ones
    run = _run_state(out)
    if resume:
        _check_same_run(out, run.get("last"), meta)
    names = [s["name"] for s in run["stages"]]
    if resume and stage_name in names and run["stages"][names.index(stage_name)]["done"]:
        if not checkpoint_exists(_ckpt(out, f"stage-{stage_name}")):
            raise ConfigError(f"{out}: stage {stage_name!r} is marked done but its checkpoint is missing")
        done_best = run["best"] if restore_best and checkpoint_exists(_ckpt(out, "best")) else None
        load_checkpoint(_ckpt(out, "best" if done_best else f"stage-{stage_name}"), model)
        info = run["stages"][names.index(stage_name)]
        hist = [r for r in run["history"] if r["stage"] == stage_name]
        return FitResult(stage_name, hist, run["best"], info.get("steps", 0), skipped=True,
                         stopped_early=info.get("stopped_early", False))
    last = run.get("last")
    resume_here = bool(resume and last is not None and last.get("stage") == stage_name and not last.get("done"))
    keep = names[: names.index(stage_name)] if stage_name in names else names
    stages = [s for s in run["stages"] if s["name"] in keep]
    if resume_here:
        keep = [*keep, stage_name]  # this stage's epochs so far stay in the history
    history = [r for r in run["history"] if r["stage"] in keep]
    best = run["best"] if run["best"] is not None and run["best"].get("stage") in keep else None

    if select_metric is None and valid_data is not None:
        select_metric = "valid_loss"
    if best is not None and best.get("metric") not in (select_metric, f"valid_{select_metric}"):
        best = None  # a different criterion: start over

    # ---- model, optimiser, schedule
    if freeze_to is not None:
        _optim.freeze_to(groups, freeze_to, train_bn=train_bn)
    set_seed(seed)
    lrs = lr_range(lr, len(groups))
    optimizer = _optim.make_optimizer(groups, lrs, wd=wd, mom=moms[0])
    amp_dtype = resolve_amp(amp, device)
    scaler = torch.amp.GradScaler(device.type) if amp_dtype == torch.float16 else None
    per_epoch = [num_batches(train_data, e) for e in range(epochs)]
    total_steps = sum(per_epoch)
    if total_steps < 1:
        raise ConfigError("train_data yields no batches; use more data or a smaller batch size")

    start_epoch = 0
    mid: dict[str, Any] | None = None  # where a checkpoint taken mid-epoch stopped
    if resume_here:
        meta_last = load_checkpoint(_ckpt(out, "last"), model, optimizer)
        was = (meta_last.get("fit") or {}).get("amp")  # checkpoints from before --amp do not say
        if was is not None and was != _amp_label(amp_dtype):
            raise ConfigError(f"{out}: stage {stage_name!r} was training with --amp {was}; continue it with "
                              f"--amp {was} (or start afresh without --resume)")
        start_epoch = int(meta_last["epochs_done"])
        set_rng_state(meta_last["rng"])
        if scaler is not None and meta_last.get("scaler"):
            scaler.load_state_dict(meta_last["scaler"])
        if meta_last.get("mid_epoch"):
            mid = {**meta_last["mid_epoch"], "rng": meta_last["rng"], "extra": load_extra(_ckpt(out, "last"))}
    stage_info = {"name": stage_name, "done": False, "epochs": epochs, "steps": total_steps}
    stage_hist = [r for r in history if r["stage"] == stage_name]
    best_state: dict[str, torch.Tensor] | None = None
    step = sum(per_epoch[:start_epoch]) + (mid["batches"] if mid else 0)
    stopped = False
    last_save = [time.perf_counter()]

    def save_last(done: bool, epochs_done: int, mid_epoch: dict[str, Any] | None = None,
                  extra: dict[str, torch.Tensor] | None = None, at_step: int | None = None) -> None:
        stage_info.update(done=done, stopped_early=stopped)
        last_save[0] = time.perf_counter()
        save_checkpoint(
            _ckpt(out, "last"),
            model,
            optimizer=optimizer,
            extra=extra,
            meta={
                "meta": meta or {},
                "stage": stage_name,
                "epochs_done": epochs_done,
                "mid_epoch": mid_epoch,
                "epochs": epochs,
                "step": step if at_step is None else at_step,
                "done": done,
                "stages": [*stages, dict(stage_info)],
                "history": history,
                "best": best,
                "rng": rng_state(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "fit": {"lr": lrs.tolist(), "moms": list(moms), "wd": wd, "pct_start": pct_start, "div": div,
                        "div_final": div_final, "clip": clip, "freeze_to": freeze_to, "seed": seed,
                        "amp": _amp_label(amp_dtype)},
            },
        )

    with _progress_bar(progress) as bar:
        for epoch in range(start_epoch, epochs):
            batches = train_data.batches(epoch)
            carried: dict[str, Any] = {}
            t0 = time.perf_counter()
            seg_t0 = t0  # the live rate counts this process's own batches only, not a resumed run's
            if mid is not None:  # continue a checkpoint taken mid-epoch: skip what it had trained
                if mid.get("of") not in (None, per_epoch[epoch]):
                    raise ConfigError(f"{out}: stage {stage_name!r} stopped at batch {mid['batches']} of "
                                      f"{mid['of']} in epoch {epoch + 1}, but the training data now has "
                                      f"{per_epoch[epoch]} batches; resume it with the same data and batch size "
                                      "(or start afresh without --resume)")
                batches = iter(batches)
                for _ in range(mid["batches"]):
                    next(batches)
                set_rng_state(mid["rng"])  # after the skipped batches, which may have drawn numbers
                carried = {"start": mid["batches"], "avg": _Averager.from_dict(mid["avg"]),
                           "n_tokens": int(mid["n_tokens"]),
                           "task_state": unpack_state(mid["task_state"], mid["extra"], device)}
                t0 -= float(mid["seconds"])
                mid = None
            seg_start = carried.get("start", 0)  # the batches a resumed run had trained already
            ptask = bar.add_task(f"{stage_name} {epoch + 1}/{epochs}", total=per_epoch[epoch], info="",
                                 completed=seg_start)
            epoch_step = step - seg_start

            def on_batch(i: int, avg: _Averager, n_tokens: int, lr_now: float, ptask=ptask, t0=t0,
                         total=per_epoch[epoch], epoch=epoch, epoch_step=epoch_step, seg_t0=seg_t0,
                         seg_start=seg_start, seg_tokens=carried.get("n_tokens", 0),
                         last_line=[0.0]) -> None:  # noqa: B006
                if (out is not None and checkpoint_minutes is not None and i + 1 < total
                        and time.perf_counter() - last_save[0] >= 60 * checkpoint_minutes
                        and math.isfinite(avg.means().get("loss", 0.0))):  # never save diverged weights
                    skeleton, tensors = pack_state(task.carried_state(), "task")
                    save_last(False, epoch, at_step=epoch_step + i + 1, extra=tensors, mid_epoch={
                        "batches": i + 1, "of": total, "n_tokens": n_tokens, "seconds": time.perf_counter() - t0,
                        "avg": avg.to_dict(), "task_state": skeleton})
                if progress and (i % 10 == 0 or i + 1 == total):
                    now = time.perf_counter()
                    el, seg_el = now - t0, now - seg_t0
                    seg_n = n_tokens - seg_tokens
                    info = _info(avg.means(), seg_n / seg_el if seg_n and seg_el > 0 else None, lr_now)
                    bar.update(ptask, completed=i + 1, info=info)
                    # Logs (no terminal) see no live bar: print a plain line about once a minute.
                    if not bar.console.is_terminal and el - last_line[0] >= 60:
                        last_line[0] = el
                        eta = (total - i - 1) * seg_el / (i + 1 - seg_start)  # at this process's pace
                        bar.console.print(f"{stage_name} {epoch + 1}/{epochs} {i + 1}/{total} {info} "
                                          f"epoch eta {datetime.timedelta(seconds=round(eta))}")
                        bar.console.file.flush()

            def schedule(step: int) -> tuple[np.ndarray, float]:
                return one_cycle(step, total_steps, lrs, pct_start=pct_start, div=div, div_final=div_final, moms=moms)

            train, n_tokens, lr_now, step = _train_epoch(
                model, task, batches, optimizer, schedule, step,
                amp_dtype=amp_dtype, scaler=scaler, clip=clip, device=device, on_batch=on_batch, **carried,
            )
            train_seconds = time.perf_counter() - t0
            if not math.isfinite(train.get("loss", 0.0)):
                raise RuntimeError(
                    f"training diverged (loss {train.get('loss')}) in stage {stage_name!r} epoch {epoch}; "
                    "lower the learning rate"
                )
            record: dict[str, Any] = {"stage": stage_name, "epoch": epoch}
            record.update({f"train_{k}": v for k, v in train.items()})
            if valid_data is not None:
                valid = evaluate(model, task, valid_data, epoch=0, device=device, amp=amp, metrics_fn=metrics_fn)
                record.update({f"valid_{k}": v for k, v in valid.items()})
                if "valid_loss" in record:
                    record["valid_perplexity"] = math.exp(min(record["valid_loss"], 700.0))
            seconds = time.perf_counter() - t0
            record.update(lr=lr_now, seconds=round(seconds, 3),
                          tokens_per_s=round(n_tokens / train_seconds, 1) if n_tokens else None)
            history.append(record)
            stage_hist.append(record)
            if progress:
                bar.update(ptask, info=_epoch_info(record))

            improved = False
            if select_metric is not None:
                key = _metric_key(select_metric, record)
                mode = select_mode or ("min" if key.endswith(("loss", "perplexity")) else "max")
                if _better(float(record[key]), None if best is None else best["value"], mode):
                    improved = True
                    best = {"metric": key, "mode": mode, "value": float(record[key]), "stage": stage_name, "epoch": epoch}
            final = epoch + 1 == epochs
            if out is not None:
                if improved:
                    save_checkpoint(_ckpt(out, "best"), model, meta={"meta": meta or {}, "best": best, "record": record})
                if final:
                    save_checkpoint(_ckpt(out, f"stage-{stage_name}"), model,
                                    meta={"meta": meta or {}, "stage": stage_name, "record": record})
                save_last(final, epoch + 1)
                _write_metrics(out, history)
            elif improved and restore_best:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if on_epoch_end is not None and on_epoch_end(record) and not final:
                stopped = True
                if out is not None:
                    save_checkpoint(_ckpt(out, f"stage-{stage_name}"), model,
                                    meta={"meta": meta or {}, "stage": stage_name, "record": record})
                    save_last(True, epoch + 1)
                break

    if restore_best and best is not None:
        if out is not None:
            load_checkpoint(_ckpt(out, "best"), model)  # the run's best, possibly from an earlier stage
        elif best_state is not None:
            model.load_state_dict(best_state)
    return FitResult(stage_name, stage_hist, best, steps=step, stopped_early=stopped)
