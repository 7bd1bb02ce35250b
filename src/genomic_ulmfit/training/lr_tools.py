"""LR finder for the classifiers (the first training stage), as used by ``genomic-ulmfit lr-find``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from genomic_ulmfit.errors import ConfigError


def classifier_lr_find(dataset: str | os.PathLike, out_png: str | os.PathLike, *, model: str = "ulmfit",
                       encoder=None, preset: str = "cpu", species: list[str] | None = None, num_it: int = 100,
                       seed: int = 0, device: str | None = None,
                       warn: Callable[[str], None] | None = None) -> float:
    """Sweep the LR for ``model``'s first stage on the dataset's train rows; plot to ``out_png``.

    ``model``: ``ulmfit`` or ``cnn`` (``cnn:cohn``, ``cnn:modern``). For ULMFiT the first stage
    trains the head only (as in gradual unfreezing). Returns the suggested learning rate.
    ``warn`` (a callable taking a string), when given, is told when ULMFiT has no ``encoder``
    and when the sweep is degenerate (see :func:`~genomic_ulmfit.training.lr_find.sweep_problem`).
    """
    from genomic_ulmfit.data.dataset import load_dataset
    from genomic_ulmfit.models.estimators import model_from_name
    from genomic_ulmfit.models.names import split_name
    from genomic_ulmfit.training.loop import ClassificationTask
    from genomic_ulmfit.training.lr_find import lr_find, plot_lr_find, sweep_problem
    from genomic_ulmfit.training.optim import freeze_to
    from genomic_ulmfit.training.runs import training_rows

    name, arch = split_name(model)
    if name not in ("ulmfit", "cnn") or (name == "ulmfit" and arch):
        raise ConfigError(f"lr-find works for ulmfit and cnn (cnn:cohn, cnn:modern), not {model!r}")
    if Path(out_png).suffix.lower() != ".png":
        raise ConfigError(f"--out {out_png}: the plot is a PNG image; give a path ending in .png")
    if warn is not None and name == "ulmfit" and encoder is None:
        warn("no --encoder: the sweep is for a ULMFiT head on a random encoder (no language model); give --encoder "
             "LM_DIR from 'lm pretrain' or 'lm finetune' to sweep the model you will train")
    train, valid = training_rows(load_dataset(dataset), species, seed=seed)
    est = model_from_name(name, preset=preset, encoder=encoder, arch=arch or None, seed=seed, device=device)
    prep = est.prepare(train["sequence"].tolist(), train["label"].to_numpy(np.int64),
                       None if valid is None else valid["sequence"].tolist(),
                       None if valid is None else valid["label"].to_numpy(np.int64))
    net = prep["model"]
    groups = net.layer_groups()
    if name == "ulmfit":
        freeze_to(groups, -1)
    clf = prep["preset"].classifier if name == "ulmfit" else None  # ULMFiT's loss as in training
    task = ClassificationTask(clf.ar_alpha, clf.tar_beta) if clf is not None else ClassificationTask()
    lrs, losses, suggestion = lr_find(net, task, prep["train_data"], num_it=num_it,
                                      layer_groups=groups, device=device, seed=seed)
    plot_lr_find(lrs, losses, Path(out_png), suggestion=suggestion)
    problem = sweep_problem(lrs, losses, num_it)
    if warn is not None and problem:
        warn(f"{problem}: the suggested rate means little; look at the plot, and sweep again with more --num-it "
             "or more training data")
    return float(suggestion)
