"""The uniform estimator interface every classifier (ulmfit, cnn, kmer, gkmsvm) implements.

Like scikit-learn: hyperparameters go to ``__init__`` (no work there), ``fit`` learns attributes
and returns ``self``, ``predict_proba`` returns P(enhancer). A fitted model saves itself to a
directory (``model.json`` naming its ``kind`` + safetensors/JSON payload, never pickle) and
:func:`load_model` rebuilds it from that directory alone.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from genomic_ulmfit.errors import InputError

MODEL_REGISTRY: dict[str, type[SequenceModel]] = {}


def register_model(cls: type[SequenceModel]) -> type[SequenceModel]:
    """Class decorator: make ``cls`` loadable by :func:`load_model` under ``cls.kind``."""
    MODEL_REGISTRY[cls.kind] = cls
    return cls


class SequenceModel(ABC):
    """A binary enhancer classifier over DNA strings (upper case ACGTN)."""

    kind: ClassVar[str] = "base"

    @abstractmethod
    def fit(
        self,
        sequences: Sequence[str],
        labels: np.ndarray,
        valid_sequences: Sequence[str] | None = None,
        valid_labels: np.ndarray | None = None,
        *,
        out_dir: str | Path | None = None,
        progress: bool = True,
    ) -> SequenceModel:
        """Learn from ``sequences`` with 0/1 ``labels`` (shape (n,)); returns ``self``.

        ``valid_*`` (optional) are used for early stopping / best-epoch selection only.
        ``out_dir`` (optional) receives checkpoints and logs while training.
        """

    @abstractmethod
    def predict_proba(self, sequences: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """P(enhancer) for each sequence, float64 array of shape (n,)."""

    @abstractmethod
    def save(self, directory: str | Path) -> None:
        """Write ``model.json`` (with ``"kind"``) and weights to ``directory``."""

    @classmethod
    @abstractmethod
    def load(cls, directory: str | Path) -> SequenceModel:
        """Rebuild a fitted model saved by :meth:`save`."""

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as a JSON-able dict (recorded in run.json)."""
        return {}


def read_model_json(directory: str | Path) -> dict[str, Any]:
    """Read ``directory/model.json`` or raise a one-line :class:`InputError`."""
    path = Path(directory) / "model.json"
    if not path.is_file():
        raise InputError(f"{directory}: no model.json here; give the directory written by 'train'")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def load_model(directory: str | Path) -> SequenceModel:
    """Load any saved model by the ``kind`` recorded in its ``model.json``."""
    # Import the implementations so they register themselves.
    from genomic_ulmfit.models import estimators  # noqa: F401

    meta = read_model_json(directory)
    kind = meta.get("kind")
    if kind not in MODEL_REGISTRY:
        raise InputError(
            f"{directory}/model.json: unknown model kind {kind!r}; known: {', '.join(sorted(MODEL_REGISTRY))}"
        )
    return MODEL_REGISTRY[kind].load(directory)
