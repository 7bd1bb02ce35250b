"""Gapped k-mer SVM baseline (LS-GKM defaults l=11, k=7, d=3) via the ``gkmsvm-lite`` package.

``gkmsvm-lite`` is optional (``pip install genomic-ulmfit[gkmsvm]``): importing this module never
fails, ``fit``/``load`` raise a one-line :class:`ConfigError` when it is missing.

Sequence lengths: training sequences must all have the same length (the package stacks them in
one (n, 4, L) array); unequal lengths raise :class:`InputError` -- resize them first (e.g. centre
crop to a fixed width). Prediction accepts any length >= ``l`` (sequences are scored in groups of
equal length). ``N`` is one-hot encoded as an all-zero column, which the package's kernels read as
``A``; sequences with long N runs are therefore scored less reliably.

Scores: the SVM decision value f(x) is turned into P(enhancer) = sigmoid(a f(x) + b). By default
a = 1, b = 0 (threshold 0.5 is the SVM's own boundary); when ``fit`` gets a validation set, (a, b)
are fitted on it (Platt scaling). AUROC does not depend on (a, b).

Saved as ``model.json`` (kind, hyperparameters, kernel parameters, bias, Platt a/b) and
``weights.safetensors`` (support sequences as uint8 one-hot (S, 4, L), coefficients (S,)); no
pickle.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.base import (
    SequenceModel,
    batch_or,
    check_binary_labels,
    check_sequences,
    read_model_json,
    register_model,
    restore_arrays,
    save_arrays,
)
from genomic_ulmfit.utils import write_json_atomic

INSTALL_HINT = "gkm-SVM needs the optional package gkmsvm-lite: pip install genomic-ulmfit[gkmsvm]"
KERNELS = ("estimated", "estimated_full", "direct")
# gkmsvm-lite kernels this wrapper refuses, and why (measured on Cohn human, 450 train / 250 test).
UNSUPPORTED_KERNELS = {
    "rbf": "gkmsvm-lite's RBF runs on the unnormalised gkm kernel, so on real 500 bp sequences every score "
    "underflows to the bias (AUROC 0.500); use kernel='estimated'",
    "weighted": "gkmsvm-lite builds the centre-weighted kernels from an (n, n, L, L, l) array that does not fit "
    "in memory for real data; use kernel='estimated'",
}
UNSUPPORTED_KERNELS["weighted_rbf"] = UNSUPPORTED_KERNELS["weighted"]
FORMAT_VERSION = 1
_ONE_HOT = np.zeros((256, 4), dtype=np.float32)
for _i, _b in enumerate("ACGT"):
    _ONE_HOT[ord(_b), _i] = 1.0
    _ONE_HOT[ord(_b.lower()), _i] = 1.0


def _import_gkmsvm():
    """The ``gkmsvm`` module, or a one-line ConfigError telling how to install it."""
    try:
        import gkmsvm
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return gkmsvm


def one_hot(sequences: Sequence[str]) -> np.ndarray:
    """Equal-length DNA strings to float32 one-hot, shape (n, 4, L); non-ACGT -> all-zero column."""
    if not sequences:
        return np.zeros((0, 4, 0), dtype=np.float32)
    buf = np.frombuffer("".join(sequences).encode("ascii", errors="replace"), dtype=np.uint8)
    x = _ONE_HOT[buf].reshape(len(sequences), len(sequences[0]), 4)  # (n, L, 4)
    return np.ascontiguousarray(x.transpose(0, 2, 1))


@register_model
class GkmSvm(SequenceModel):
    """Gapped k-mer SVM (LS-GKM) classifier.

    Parameters
    ----------
    l : int, default 11
        Word (l-mer) length.
    k : int, default 7
        Informative (non-gap) positions per word.
    d : int, default 3
        Maximum mismatches for the truncated estimated kernel.
    C : float, default 1.0
        SVM regularisation.
    kernel : {"estimated", "estimated_full", "direct"}, default "estimated"
        gkmsvm-lite kernel alias; "estimated" is LS-GKM's default ``-t 2`` (gkm_esttrunc). The RBF
        and centre-weighted kernels are refused (see :data:`UNSUPPORTED_KERNELS`).
    include_rc : bool, default True
        Count both strands in the kernel.
    solver : {"auto", "libsvm", "smo", "nystrom"}, default "auto"
        gkmsvm-lite's solver; "auto" precomputes the (n, n) Gram matrix when it fits in memory.
    max_gram_gb : float or None, default None
        Cap on the Gram matrix size (falls back to the slower SMO solver above it).
    n_jobs : int or None, default None
        Numba threads while fitting and predicting (None: numba's default).
    """

    kind: ClassVar[str] = "gkmsvm"

    def __init__(
        self,
        l: int = 11,  # noqa: E741 - LS-GKM's name
        k: int = 7,
        d: int = 3,
        C: float = 1.0,
        kernel: str = "estimated",
        include_rc: bool = True,
        solver: str = "auto",
        max_gram_gb: float | None = None,
        n_jobs: int | None = None,
    ):
        self.l = l
        self.k = k
        self.d = d
        self.C = C
        self.kernel = kernel
        self.include_rc = include_rc
        self.solver = solver
        self.max_gram_gb = max_gram_gb
        self.n_jobs = n_jobs

    def _validate_params(self) -> None:
        if not (isinstance(self.l, int) and isinstance(self.k, int) and 1 <= self.k <= self.l <= 32):
            raise ConfigError(f"gkmsvm: need integers 1 <= k <= l <= 32; got l={self.l}, k={self.k}")
        if not (isinstance(self.d, int) and 0 <= self.d <= self.l - self.k):
            raise ConfigError(f"gkmsvm: d must be an integer in 0..l-k={self.l - self.k}; got {self.d}")
        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ConfigError(f"gkmsvm: C must be > 0; got {self.C}")
        if self.kernel in UNSUPPORTED_KERNELS:
            raise ConfigError(f"gkmsvm: kernel {self.kernel!r} is not supported: {UNSUPPORTED_KERNELS[self.kernel]}")
        if self.kernel not in KERNELS:
            raise ConfigError(f"gkmsvm: kernel must be one of {', '.join(KERNELS)}; got {self.kernel!r}")

    def _set_threads(self) -> None:
        if self.n_jobs:
            import numba

            numba.set_num_threads(int(self.n_jobs))

    def fit(
        self,
        sequences: Sequence[str],
        labels: np.ndarray,
        valid_sequences: Sequence[str] | None = None,
        valid_labels: np.ndarray | None = None,
        *,
        out_dir: str | Path | None = None,
        progress: bool = True,
    ) -> GkmSvm:
        """Train the SVM on equal-length ``sequences``; Platt-scale on the validation set if given.

        Memory grows as n**2 (the Gram matrix: 8 n**2 bytes), time roughly as n**2 L.
        ``progress`` is passed to gkmsvm-lite as ``verbose``. Returns self.
        """
        self._validate_params()
        gk = _import_gkmsvm()
        self._set_threads()
        t0 = time.perf_counter()
        seqs = check_sequences(sequences)
        y = check_binary_labels(seqs, labels)
        lengths = {len(s) for s in seqs}
        if len(lengths) > 1:
            raise InputError(
                f"gkmsvm: training sequences have {len(lengths)} different lengths "
                f"({min(lengths)}..{max(lengths)} bp); gkm-SVM needs one length, centre-crop them to a fixed width"
            )
        length = lengths.pop()
        if length < self.l:
            raise InputError(
                f"gkmsvm: sequences of {length} bp are shorter than l={self.l}; lower l or use longer sequences"
            )
        X = one_hot(seqs)  # (n, 4, L)
        self.svm_ = gk.train_gkmsvm(
            X[y == 1],
            X[y == 0],
            kernel_type=self.kernel,
            l=self.l,
            k=self.k,
            d=self.d,
            C=float(self.C),
            include_rc=self.include_rc,
            solver=self.solver,
            max_gram_gb=self.max_gram_gb,
            device="cpu",
            verbose=bool(progress),
        )
        self.platt_ = (1.0, 0.0)
        self.platt_source_ = "none"
        if valid_sequences is not None and len(valid_sequences := check_sequences(valid_sequences, "validation")):
            yv = check_binary_labels(valid_sequences, valid_labels, "validation")
            self.platt_ = _platt(self.decision_function(valid_sequences), yv)
            self.platt_source_ = "validation"
        self.fit_seconds_ = time.perf_counter() - t0
        if out_dir is not None:
            write_json_atomic(
                Path(out_dir) / "fit_log.json",
                {
                    "kind": self.kind,
                    "n_support": int(self.svm_.num_support_vectors),
                    "seconds": self.fit_seconds_,
                    "platt": list(self.platt_),
                    "platt_source": self.platt_source_,
                },
            )
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "svm_"):
            raise InputError("gkmsvm model is not fitted; call fit() or load a saved model first")

    def decision_function(self, sequences: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """SVM decision values f(x), float64 (n,). Sequences are grouped by length."""
        self._check_fitted()
        self._set_threads()
        seqs = check_sequences(sequences, "prediction")
        out = np.empty(len(seqs), dtype=np.float64)
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        if len(seqs) and lengths.min() < self.l:
            i = int(np.argmin(lengths))
            raise InputError(
                f"gkmsvm: sequence {i + 1} has {lengths[i]} bp, shorter than l={self.l}; it cannot be scored"
            )
        step = batch_or(batch_size, 1000)
        for length in np.unique(lengths):
            idx = np.flatnonzero(lengths == length)
            for start in range(0, idx.size, step):
                part = idx[start : start + step]
                x = one_hot([seqs[i] for i in part])  # (b, 4, L)
                out[part] = np.asarray(self.svm_(x), dtype=np.float64)[:, 0]
        return out

    def predict_proba(self, sequences: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """P(enhancer) = sigmoid(a f(x) + b), float64 (n,)."""
        self._check_fitted()
        a, b = self.platt_
        f = self.decision_function(sequences, batch_size=batch_size)
        return 1.0 / (1.0 + np.exp(-(a * f + b)))

    def save(self, directory: str | Path) -> None:
        """Write ``model.json`` and ``weights.safetensors`` (support sequences, coefficients)."""
        self._check_fitted()
        svm = self.svm_
        save_arrays(
            directory,
            {
                "kind": self.kind,
                "format_version": FORMAT_VERSION,
                "params": self.get_params(),
                "kernel_type": svm.kernel_type,
                "kernel_params": svm.kernel_params,
                "bias": float(svm.bias),
                "platt": list(self.platt_),
                "platt_source": self.platt_source_,
                "n_support": int(svm.num_support_vectors),
            },
            {
                "support_sequences": np.asarray(np.asarray(svm.support_sequences) != 0, dtype=np.uint8),
                "coefficients": np.asarray(svm.coefficients, dtype=np.float32),
            },
        )

    @classmethod
    def load(cls, directory: str | Path) -> GkmSvm:
        """Rebuild a model written by :meth:`save` (needs gkmsvm-lite)."""
        meta = read_model_json(directory, kind=cls.kind)
        gk = _import_gkmsvm()
        model, w = restore_arrays(cls, directory, meta)
        model.svm_ = gk.GkmSVM(
            support_sequences=w["support_sequences"].astype(np.float32),
            coefficients=w["coefficients"],
            bias=float(meta["bias"]),
            kernel_type=meta["kernel_type"],
            kernel_params=meta["kernel_params"],
        )
        model.platt_ = tuple(float(v) for v in meta.get("platt", (1.0, 0.0)))
        model.platt_source_ = meta.get("platt_source", "none")
        return model


def _platt(f: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Fit P(y=1) = sigmoid(a f + b) by (almost unregularised) logistic regression; returns (a, b)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1e4, max_iter=1000).fit(f[:, None], y)
    return float(clf.coef_[0, 0]), float(clf.intercept_[0])
