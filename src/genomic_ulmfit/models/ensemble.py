"""Ensembles of fitted models: the (weighted) mean of standardised logits.

Models differ in calibration (a CNN is often over-confident, a k-mer LR under-confident), so
averaging raw probabilities lets the loudest member dominate. Each member's logit is standardised
with the mean and standard deviation it has on a calibration set (normally the validation
sequences — labels are not needed), then averaged; the result goes back through a sigmoid. The
score ranks sequences; it is a probability only loosely (0.5 ≈ the calibration set's average).

When the calibration sequences come with labels, members whose AUROC on them is more than
``PRUNE_TOL`` (0.03, about 1.5 standard errors of an AUROC on ~500 sequences) below the best
member's get weight 0; the rest are averaged with equal weights. A weak member (say the Cohn CNN,
0.07 behind the others on Cohn human) then no longer drags the mean down. On the Cohn human 5-fold
CV (k-mer LR, Cohn CNN, modern CNN) this gave 0.807 AUROC against 0.794 for equal weights and 0.800
for greedy forward selection (Caruana et al. 2004), which overfits a validation set this small.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.base import (
    SequenceModel,
    check_binary_labels,
    check_sequences,
    load_model,
    model_fingerprint,
    read_model_json,
    register_model,
)
from genomic_ulmfit.utils import write_json_atomic

PRUNE_TOL = 0.03


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
        One weight per member. Default: chosen on labelled calibration data (see the module
        docstring), equal when the calibration data has no labels.

    ``fit(sequences, labels)`` loads the members and learns each one's logit mean/std on
    ``sequences`` (the validation sequences when given) and, with labels, the weights.
    :meth:`from_models` builds one from models already in memory.

    Attributes (after ``fit``): ``weights_`` (the weights used: ``weights`` when given, else the
    ones chosen on the labels, else equal), ``mean_``, ``std_``, ``selection_``.
    """

    kind: ClassVar[str] = "ensemble"

    def __init__(self, members: Sequence[str | os.PathLike] = (), weights: Sequence[float] | None = None):
        self.members = [str(m) for m in members]
        self.weights = None if weights is None else [float(w) for w in weights]

    def get_params(self) -> dict[str, Any]:
        return {"members": [os.path.abspath(m) for m in self.members], "weights": self.weights}

    @classmethod
    def from_models(cls, models: Mapping[str, SequenceModel], calibration: Sequence[str],
                    labels: Sequence[int] | None = None, weights: Sequence[float] | None = None) -> EnsembleModel:
        """An ensemble of fitted ``models`` ({run dir: model}), calibrated on ``calibration``.

        With ``labels`` (for ``calibration``) and no ``weights``, the weights are selected on them.
        """
        self = cls(list(models), weights)
        self._check_weights()
        self.fingerprints_ = _fingerprints(self.members)
        self.models_ = list(models.values())
        self._calibrate(calibration, labels)
        return self

    @classmethod
    def from_scores(cls, members: Sequence[str | os.PathLike], calibration_scores, labels: Sequence[int] | None = None,
                    weights: Sequence[float] | None = None) -> EnsembleModel:
        """An ensemble calibrated on its members' scores (members, n) of the calibration sequences.

        For callers that already hold every member's scores (cross-validation): combine them with
        :meth:`combine`. The result has no loaded members, so it cannot score sequences itself.
        """
        self = cls(members, weights)
        self._check_weights()
        self.fingerprints_ = _fingerprints(self.members)
        self.models_ = []
        self._calibrate_logits(logit(np.asarray(calibration_scores, dtype=np.float64)), labels)
        return self

    def _check_weights(self) -> None:
        if self.weights is None:
            return
        if len(self.weights) != len(self.members):
            raise ConfigError(f"ensemble: {len(self.weights)} weights for {len(self.members)} members")
        w = np.asarray(self.weights, dtype=np.float64)
        if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
            raise ConfigError(f"ensemble: weights {self.weights} must be finite and >= 0 with a positive sum")

    def fit(self, sequences, labels=None, valid_sequences=None, valid_labels=None, *, out_dir=None, progress=True):
        if not self.members:
            raise ConfigError("ensemble: give at least one member run directory")
        self._check_weights()
        self.fingerprints_ = _fingerprints(self.members)  # before loading: a member changed meanwhile is refused later
        self.models_ = [load_model(m) for m in self.members]
        if valid_sequences is not None:
            self._calibrate(list(valid_sequences), valid_labels)
        else:
            self._calibrate(list(sequences), labels)
        return self

    def _calibrate(self, sequences: Sequence[str], labels: Sequence[int] | None = None) -> None:
        sequences = check_sequences(sequences, "ensemble calibration")
        if len(sequences) < 2:
            raise ConfigError("ensemble: calibration needs at least 2 sequences")
        self._calibrate_logits(np.stack([logit(m.predict_proba(list(sequences))) for m in self.models_]), labels)

    def _calibrate_logits(self, z: np.ndarray, labels: Sequence[int] | None = None) -> None:
        """Each member's logit mean/std over the calibration set, and the weights when labelled.

        ``z``: the members' logits of the calibration sequences, shape (members, n).
        """
        if z.ndim != 2 or z.shape[0] != len(self.members) or z.shape[1] < 2:
            raise ConfigError(f"ensemble: calibration needs (members={len(self.members)}, n >= 2) scores, "
                              f"got shape {z.shape}")
        self.mean_ = z.mean(axis=1)
        self.std_ = np.maximum(z.std(axis=1), 1e-6)
        self.selection_ = None
        self.weights_ = list(self.weights) if self.weights is not None else [1.0] * len(self.members)
        if labels is not None and self.weights is None:
            y = check_binary_labels(range(z.shape[1]), labels, "ensemble calibration")
            self.weights_, self.selection_ = select_weights((z - self.mean_[:, None]) / self.std_[:, None], y)

    def member_logits(self, sequences: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """Standardised logits of every member, shape (members, n)."""
        self._check_fitted()
        seqs = check_sequences(sequences, "prediction")
        z = np.stack([logit(m.predict_proba(seqs, batch_size=batch_size)) for m in self.models_])
        return (z - self.mean_[:, None]) / self.std_[:, None]

    def _check_fitted(self, need_members: bool = True) -> None:
        if not hasattr(self, "mean_") or (need_members and not getattr(self, "models_", None)):
            raise ConfigError("this ensemble is not fitted; call fit() (or from_models) or load a saved one")

    def predict_proba(self, sequences, *, batch_size=None):
        self._check_fitted()
        seqs = check_sequences(sequences, "prediction")
        return self.combine([m.predict_proba(seqs, batch_size=batch_size) for m in self.models_])

    def combine(self, member_scores) -> np.ndarray:
        """The ensemble's score from its members' scores of the same sequences, shape (members, n)."""
        self._check_fitted(need_members=False)
        z = logit(np.asarray(member_scores, dtype=np.float64))
        if z.ndim != 2 or z.shape[0] != len(self.mean_):
            raise ConfigError(f"ensemble: needs the scores of its {len(self.mean_)} members, got shape {z.shape}")
        z = (z - self.mean_[:, None]) / self.std_[:, None]
        w = np.asarray(self.weights_, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-(w[:, None] * z).sum(0) / w.sum()))

    def save(self, directory):
        self._check_fitted(need_members=False)
        gone = [m for m in self.members if not (Path(m) / "model.json").is_file()]
        if gone:
            raise ConfigError(f"ensemble: member {gone[0]!r} is not a saved run directory, so a saved ensemble could "
                              "not load it; save each member (model.save(dir)) and key from_models by those dirs")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # Each member by its path relative to the ensemble too (so a results tree can be moved or
        # copied whole) and by its fingerprint, taken when it was loaded or scored (so a member
        # refitted or replaced since then is noticed).
        prints = getattr(self, "fingerprints_", None) or [None] * len(self.members)
        member_files = [{"relative": os.path.relpath(os.path.abspath(m), os.path.abspath(directory)),
                         "sha256": f or model_fingerprint(m)} for m, f in zip(self.members, prints, strict=True)]
        write_json_atomic(directory / "model.json", {
            "kind": self.kind, "params": self.get_params(), "member_files": member_files, "weights_": self.weights_,
            "calibration": {"mean": self.mean_.tolist(), "std": self.std_.tolist()},
            "selection": getattr(self, "selection_", None),
        })

    @classmethod
    def load(cls, directory):
        meta = read_model_json(directory, kind=cls.kind)
        members, files = meta["params"]["members"], meta.get("member_files")
        if files:  # else written before members had fingerprints: their paths as they are
            if not (isinstance(files, list) and len(files) == len(members) and all(
                    isinstance(f, dict) and isinstance(f.get("relative"), str) and isinstance(f.get("sha256"), str)
                    for f in files)):
                raise InputError(f"{directory}/model.json: member_files is malformed (one {{relative, sha256}} per "
                                 "member expected); rebuild the ensemble with 'genomic-ulmfit ensemble'")
            members = [find_member(Path(directory), m, f) for m, f in zip(members, files)]
        self = cls(members, meta["params"].get("weights"))
        self.fingerprints_ = [f["sha256"] for f in files] if files else _fingerprints(self.members)
        try:
            self.models_ = [load_model(m) for m in self.members]
        except InputError as exc:
            raise InputError(f"ensemble {directory}: a member cannot be loaded: {exc} (was it moved or deleted? "
                             "rebuild the ensemble with 'genomic-ulmfit ensemble')") from exc
        self.mean_ = np.asarray(meta["calibration"]["mean"], dtype=np.float64)
        self.std_ = np.asarray(meta["calibration"]["std"], dtype=np.float64)
        self.selection_ = meta.get("selection")
        if "weights_" not in meta and self.selection_ is not None:
            # written before weights_ existed: the weights in params were chosen on labels, not given
            self.weights_, self.weights = self.weights, None
        else:
            self.weights_ = meta.get("weights_") or self.weights or [1.0] * len(self.members)
        _check_calibration(directory, len(self.members), self.mean_, self.std_, self.weights_)
        return self


def _check_calibration(directory, n: int, mean: np.ndarray, std: np.ndarray, weights) -> None:
    """Refuse a saved ensemble whose own numbers cannot be right: one mean, sd and weight per member,
    finite, sd > 0, weights >= 0 and not all 0 (else its scores broadcast or turn NaN silently)."""
    w = np.asarray(weights, dtype=np.float64)
    bad = next((what for what, ok in (
        ("calibration mean", mean.shape == (n,) and np.isfinite(mean).all()),
        ("calibration std", std.shape == (n,) and np.isfinite(std).all() and (std > 0).all()),
        ("member weights", w.shape == (n,) and np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0),
    ) if not ok), None)
    if bad:
        raise InputError(f"{directory}/model.json: its {bad} do not fit its {n} members (one finite value each; sd "
                         "> 0, weights >= 0, not all 0); rebuild the ensemble with 'genomic-ulmfit ensemble'")


def _fingerprints(members: Sequence[str]) -> list[str | None]:
    """:func:`model_fingerprint` of each member saved on disk (None for one that is not)."""
    return [model_fingerprint(m) if (Path(m) / "model.json").is_file() else None for m in members]


def member_places(directory: str | os.PathLike, path: str, files: Mapping[str, Any]) -> list[Path]:
    """Where to look for a member that a saved ensemble in ``directory`` records as ``path``
    (absolute) and ``files`` (its ``member_files`` entry): relative to the ensemble first (a tree
    moved or copied whole), then where it was saved from."""
    return [Path(os.path.normpath(Path(directory) / files["relative"])), Path(path)]


def find_member(directory: Path, path: str, files: Mapping[str, str]) -> str:
    """The member saved as ``path`` and ``files`` (see :func:`member_places`): the first place that
    holds the very model the ensemble was calibrated on (same fingerprint)."""
    tried = []
    for where in member_places(directory, path, files):
        if (where / "model.json").is_file():
            if model_fingerprint(where) == files["sha256"]:
                return str(where)
            tried.append(str(where))
    if tried:
        raise InputError(f"ensemble {directory}: member {tried[0]} is not the model this ensemble was calibrated on "
                         "(it was refitted or replaced since); rebuild the ensemble with 'genomic-ulmfit ensemble'")
    raise InputError(f"ensemble {directory}: member {path} is gone (looked also in "
                     f"{member_places(directory, path, files)[0]}); was it moved or deleted? rebuild the ensemble "
                     "with 'genomic-ulmfit ensemble'")


def parse_weights(text: str) -> list[float]:
    """Member weights from a comma list such as ``"1,1,0.5"`` (checked by the ensemble)."""
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise ConfigError(f"ensemble: weights {text!r} are not a comma list of numbers, e.g. 1,1,0.5") from None


def select_weights(z: np.ndarray, y: np.ndarray, tol: float = PRUNE_TOL) -> tuple[list[float], dict[str, Any]]:
    """Weight 1 for members whose AUROC on (``z``, ``y``) is within ``tol`` of the best, else 0.

    ``z``: standardised logits (members, n). Returns ``(weights, record)``; ``record`` holds the
    members' AUROC, the ensemble's and the rule.
    """
    from sklearn.metrics import roc_auc_score

    single = np.array([roc_auc_score(y, zi) for zi in z])
    weights = (single >= single.max() - tol).astype(np.float64)
    return weights.tolist(), {"member_auroc": single.round(6).tolist(),
                              "ensemble_auroc": round(float(roc_auc_score(y, weights @ z)), 6),
                              "method": f"equal weights within {tol} AUROC of the best member"}
