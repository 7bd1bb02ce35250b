"""Checkpoints as safetensors + JSON — never pickle.

A checkpoint ``<prefix>`` is two files written atomically (temp file + rename):

* ``<prefix>.safetensors`` — the model's ``state_dict`` under its own keys (tensors shared by tied
  weights are stored once), and, when an optimiser is saved, its state tensors under
  ``optim/<param index>/<name>`` (model keys never contain ``/``);
  and, when given, the caller's ``extra`` tensors under ``extra/<name>`` (say a recurrent state
  carried from one batch to the next, saved in the middle of an epoch);
* ``<prefix>.json`` — the caller's ``meta`` (config, stage, epoch, step, metrics, RNG states…)
  plus ``checkpoint_id``, the tied-weight aliases and the optimiser's param-group
  hyperparameters and scalar state.

Both files carry the same random ``checkpoint_id``; loading refuses a pair that does not match
(a crash between the two renames). Loading uses ``safetensors.torch.load_file`` only.
"""

from __future__ import annotations

import base64
import os
import random
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from genomic_ulmfit.errors import InputError
from genomic_ulmfit.utils import atomic_path, read_json, write_json_atomic

FORMAT = "genomic-ulmfit-checkpoint/1"
_OPTIM = "optim/"
_EXTRA = "extra/"


def checkpoint_paths(prefix: str | os.PathLike) -> tuple[Path, Path]:
    """``(<prefix>.safetensors, <prefix>.json)``."""
    p = str(prefix)
    return Path(p + ".safetensors"), Path(p + ".json")


def checkpoint_exists(prefix: str | os.PathLike) -> bool:
    """True when both files of checkpoint ``prefix`` exist."""
    return all(p.is_file() for p in checkpoint_paths(prefix))


def _dedupe(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Drop tensors that are the same view of the same storage as an earlier one.

    Returns the tensors to save (contiguous, no shared storage) and ``{alias: canonical}``.
    Tensors sharing storage through *different* views are cloned.
    """
    out: dict[str, torch.Tensor] = {}
    tied: dict[str, str] = {}
    by_view: dict[tuple, str] = {}
    storages: set[int] = set()
    for name, t in state.items():
        t = t.detach()
        if t.device.type == "meta":
            raise ValueError(f"cannot checkpoint meta tensor {name!r}")
        ptr = t.untyped_storage().data_ptr() if t.numel() else None
        view = (ptr, t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
        if ptr is not None and view in by_view:
            tied[name] = by_view[view]
            continue
        if ptr is not None:
            by_view[view] = name
            if ptr in storages or not t.is_contiguous():
                t = t.contiguous().clone()
            storages.add(ptr)
        out[name] = t.cpu()
    return out, tied


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, torch.Tensor):
        return v.item()
    return v


def save_checkpoint(
    path_prefix: str | os.PathLike,
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    meta: dict[str, Any] | None = None,
    extra: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write ``<path_prefix>.safetensors`` and ``<path_prefix>.json`` atomically.

    Parameters
    ----------
    path_prefix : str or PathLike
        File prefix, e.g. ``run/checkpoints/last``.
    model : nn.Module
        Its ``state_dict`` is saved (tied tensors once).
    optimizer : torch.optim.Optimizer, optional
        Its state tensors go to the safetensors file, hyperparameters to the JSON.
    meta : dict, optional
        JSON-able metadata (config, epoch, step, metrics, RNG states from :func:`rng_state`…).
    extra : dict of str to torch.Tensor, optional
        Further tensors to keep beside the weights; :func:`load_extra` reads them back.
    """
    tensors, tied = _dedupe(model.state_dict())
    for name, t in (extra or {}).items():
        tensors[f"{_EXTRA}{name}"] = t.detach().contiguous().cpu()
    info: dict[str, Any] = {"format": FORMAT, "checkpoint_id": uuid.uuid4().hex, "tied": tied}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for idx, st in sd["state"].items():
            for key, v in st.items():
                if isinstance(v, torch.Tensor):
                    tensors[f"{_OPTIM}{idx}/{key}"] = v.detach().contiguous().cpu()
                else:
                    scalars.setdefault(str(idx), {})[key] = _jsonable(v)
        groups = [{k: _jsonable(v) for k, v in g.items()} for g in sd["param_groups"]]
        info["optimizer"] = {"class": type(optimizer).__name__, "param_groups": groups, "scalars": scalars}
    st_path, json_path = checkpoint_paths(path_prefix)
    with atomic_path(st_path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "checkpoint_id": info["checkpoint_id"]})
    write_json_atomic(json_path, {**(meta or {}), "checkpoint": info})


def read_meta(path_prefix: str | os.PathLike) -> dict[str, Any]:
    """The JSON metadata of checkpoint ``path_prefix`` (without loading tensors)."""
    st_path, json_path = checkpoint_paths(path_prefix)
    for p in (st_path, json_path):
        if not p.is_file():
            raise InputError(f"{p}: checkpoint file not found; give the prefix of a saved checkpoint")
    meta = read_json(json_path)
    if not isinstance(meta, dict) or not isinstance(meta.get("checkpoint"), dict) \
            or meta["checkpoint"].get("format") != FORMAT:
        raise InputError(f"{json_path}: not a genomic-ulmfit checkpoint (expected format {FORMAT})")
    return meta


def load_checkpoint(
    path_prefix: str | os.PathLike,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    strict: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Tensors are copied in place into the model's parameters, so tied weights stay tied.

    Returns
    -------
    dict
        The saved ``meta`` (with the ``"checkpoint"`` record).
    """
    meta, tensors = _read_pair(path_prefix)
    info = meta["checkpoint"]
    st_path, _ = checkpoint_paths(path_prefix)
    if model is not None:
        state = {k: v for k, v in tensors.items() if not k.startswith((_OPTIM, _EXTRA))}
        for alias, canonical in info.get("tied", {}).items():
            state[alias] = state[canonical]
        try:
            model.load_state_dict(state, strict=strict)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise InputError(
                f"{st_path}: weights do not fit this model ({first[1].strip() if len(first) > 1 else first[0]}); "
                "check the model configuration"
            ) from None
    if optimizer is not None:
        if "optimizer" not in info:
            raise InputError(f"{st_path}: holds no optimizer state; resume from a 'last' checkpoint")
        groups = [
            {k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in info["optimizer"]["param_groups"]
        ]
        state_ = {}
        for key, v in tensors.items():
            if key.startswith(_OPTIM):
                idx, name = key[len(_OPTIM) :].split("/", 1)
                state_.setdefault(int(idx), {})[name] = v
        for idx, scalars in info["optimizer"]["scalars"].items():
            state_.setdefault(int(idx), {}).update(scalars)
        optimizer.load_state_dict({"state": state_, "param_groups": groups})
    return meta


def _read_pair(path_prefix: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``(meta, tensors)`` of checkpoint ``path_prefix``, refusing two files of different saves."""
    meta = read_meta(path_prefix)
    st_path, _ = checkpoint_paths(path_prefix)
    try:
        with safe_open(str(st_path), framework="pt") as fh:
            file_id = (fh.metadata() or {}).get("checkpoint_id")
        if file_id == meta["checkpoint"]["checkpoint_id"]:
            return meta, load_file(str(st_path), device="cpu")
    except Exception as exc:  # safetensors' own error type for a truncated or foreign file
        raise InputError(f"{st_path}: not a readable checkpoint ({exc}); delete it and its .json and rerun "
                         "(without --resume)") from None
    raise InputError(f"{st_path}: does not match its .json (an interrupted save?); delete both files and rerun")


def load_extra(path_prefix: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The ``extra`` tensors saved with checkpoint ``path_prefix`` (empty when there were none)."""
    _, tensors = _read_pair(path_prefix)
    return {k[len(_EXTRA) :]: v for k, v in tensors.items() if k.startswith(_EXTRA)}


# ---------------------------------------------------------------------------- RNG states as JSON
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def rng_state() -> dict[str, Any]:
    """The Python, NumPy (global) and torch (CPU + CUDA) RNG states as a JSON-able dict."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    out: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [name, _b64(np.asarray(keys, dtype=np.uint32).tobytes()), int(pos), int(has_gauss), float(cached)],
        "torch": _b64(torch.get_rng_state().numpy().tobytes()),
    }
    if torch.cuda.is_available():
        out["cuda"] = [_b64(s.numpy().tobytes()) for s in torch.cuda.get_rng_state_all()]
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore RNG states saved by :func:`rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.frombuffer(base64.b64decode(keys), dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(state["torch"])), dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        cuda = [torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8) for s in state["cuda"]]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
