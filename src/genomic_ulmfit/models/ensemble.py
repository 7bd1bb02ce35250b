"""Ensembles of fitted models: the (weighted) mean of standardised logits.

Models differ in calibration (a CNN is often over-confident, a k-mer LR under-confident), so
averaging raw probabilities lets the loudest member dominate. Each member's logit is standardised
with the mean and standard deviation it has on a calibration set (normally the validation
sequences — labels are not needed), then averaged; the result goes back through a sigmoid. The
score ranks sequences; it is a probability only loosely (0.5 ≈ the calibration set's average).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.models.base import SequenceModel, load_model, read_model_json, register_model
from genomic_ulmfit.utils import write_json_atomic


def logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [eps, 1 - eps]."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


@register_model
class EnsembleModel(SequenceModel):
    """Mean of standardised member logits.

    Parameters
    ----------
    members : sequence of str or Path
        Run directories of fitted models (anything :func:`load_model` reads).
    weights : sequence of float, optional
        One weight per member (default: equal).

    ``fit(sequences)`` loads the members and learns each one's logit mean/std on ``sequences``
    (labels are ignored). :meth:`from_models` builds one from models already in memory.
    """

    kind: ClassVar[str] = "ensemble"

    def __init__(self, members: Sequence[str | os.PathLike] = (), weights: Sequence[float] | None = None):
        self.members = [str(m) for m in members]
        self.weights = None if weights is None else [float(w) for w in weights]

    def get_params(self) -> dict[str, Any]:
        return {"members": [os.path.abspath(m) for m in self.members], "weights": self.weights}

    @classmethod
    def from_models(cls, models: Mapping[str, SequenceModel], calibration: Sequence[str],
                    weights: Sequence[float] | None = None) -> EnsembleModel:
        """An ensemble of fitted ``models`` ({run dir: model}), calibrated on ``calibration``."""
        self = cls(list(models), weights)
        self.models_ = list(models.values())
        self._calibrate(calibration)
        return self

    def fit(self, sequences, labels=None, valid_sequences=None, valid_labels=None, *, out_dir=None, progress=True):
        if not self.members:
            raise ConfigError("ensemble: give at least one member run directory")
        if self.weights is not None and len(self.weights) != len(self.members):
            raise ConfigError(f"ensemble: {len(self.weights)} weights for {len(self.members)} members")
        self.models_ = [load_model(m) for m in self.members]
        self._calibrate(list(valid_sequences) if valid_sequences is not None else list(sequences))
        return self

    def _calibrate(self, sequences: Sequence[str]) -> None:
        if len(sequences) < 2:
            raise ConfigError("ensemble: calibration needs at least 2 sequences")
        z = np.stack([logit(m.predict_proba(list(sequences))) for m in self.models_])  # (members, n)
        self.mean_ = z.mean(axis=1)
        self.std_ = np.maximum(z.std(axis=1), 1e-6)

    def member_logits(self, sequences: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """Standardised logits of every member, shape (members, n)."""
        seqs = list(sequences)
        z = np.stack([logit(m.predict_proba(seqs, batch_size=batch_size)) for m in self.models_])
        return (z - self.mean_[:, None]) / self.std_[:, None]

    def predict_proba(self, sequences, *, batch_size=None):
        z = self.member_logits(sequences, batch_size=batch_size)
        w = np.asarray(self.weights or [1.0] * len(z), dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-(w[:, None] * z).sum(0) / w.sum()))

    def save(self, directory):
        write_json_atomic(Path(directory) / "model.json", {
            "kind": self.kind, "params": self.get_params(),
            "calibration": {"mean": self.mean_.tolist(), "std": self.std_.tolist()},
        })

    @classmethod
    def load(cls, directory):
        meta = read_model_json(directory)
        self = cls(meta["params"]["members"], meta["params"].get("weights"))
        self.models_ = [load_model(m) for m in self.members]
        self.mean_ = np.asarray(meta["calibration"]["mean"], dtype=np.float64)
        self.std_ = np.asarray(meta["calibration"]["std"], dtype=np.float64)
        return self
