"""LR finder for the classifiers (the first training stage), as used by ``genomic-ulmfit lr-find``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genomic_ulmfit.errors import ConfigError


def classifier_lr_find(dataset: str | os.PathLike, out_png: str | os.PathLike, *, model: str = "ulmfit",
                       encoder=None, preset: str = "cpu", species: list[str] | None = None, num_it: int = 100,
                       seed: int = 0, device: str | None = None) -> float:
    """Sweep the LR for ``model``'s first stage on the dataset's train rows; plot to ``out_png``.

    For ULMFiT the first stage trains the head only (as in gradual unfreezing). Returns the
    suggested learning rate.
    """
    from genomic_ulmfit.data.dataset import load_dataset
    from genomic_ulmfit.models.estimators import model_from_name
    from genomic_ulmfit.training.loop import ClassificationTask
    from genomic_ulmfit.training.lr_find import lr_find, plot_lr_find
    from genomic_ulmfit.training.optim import freeze_to
    from genomic_ulmfit.training.runs import training_rows

    if model not in ("ulmfit", "cnn"):
        raise ConfigError(f"lr-find works for ulmfit and cnn, not {model!r}")
    train, valid = training_rows(load_dataset(dataset), species, seed=seed)
    est = model_from_name(model, preset=preset, encoder=encoder, seed=seed, device=device)
    prep = est.prepare(train["sequence"].tolist(), train["label"].to_numpy(np.int64),
                       None if valid is None else valid["sequence"].tolist(),
                       None if valid is None else valid["label"].to_numpy(np.int64))
    net = prep["model"]
    groups = net.layer_groups()
    if model == "ulmfit":
        freeze_to(groups, -1)
    lrs, losses, suggestion = lr_find(net, ClassificationTask(), prep["train_data"], num_it=num_it,
                                      layer_groups=groups, device=device, seed=seed)
    plot_lr_find(lrs, losses, Path(out_png), suggestion=suggestion)
    return float(suggestion)
