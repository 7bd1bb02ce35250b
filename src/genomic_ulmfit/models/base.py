"""The uniform estimator interface every classifier (ulmfit, cnn, kmer, gkm, gkmsvm) implements.

Like scikit-learn: hyperparameters go to ``__init__`` (no work there), ``fit`` learns attributes
and returns ``self``, ``predict_proba`` returns P(enhancer). They are not scikit-learn estimators
(no ``set_params``, ``predict``, ``score`` or ``clone``): ``type(m)(**m.get_params())`` is the copy. A fitted model saves itself to a
directory (``model.json`` naming its ``kind`` + safetensors/JSON payload, never pickle) and
:func:`load_model` rebuilds it from that directory alone. Models whose state is a few NumPy arrays
(kmer, gkm, gkmsvm) save with :func:`save_arrays` and load with :func:`read_model_json` +
:func:`restore_arrays`, and check their labels with :func:`check_binary_labels`.
"""

from __future__ import annotations

import inspect
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.utils import atomic_path, read_json, write_json_atomic

MODEL_REGISTRY: dict[str, type[SequenceModel]] = {}
WEIGHTS_FILE = "weights.safetensors"
M = TypeVar("M", bound="SequenceModel")


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

    #: ``__init__`` arguments that are not hyperparameters (they change no result), left out of
    #: :meth:`get_params`
    not_params: ClassVar[tuple[str, ...]] = ()

    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as a JSON-able dict (recorded in run.json), shaped like scikit-learn's
        (shallow; no ``deep`` argument): the arguments of ``__init__`` read back from the attributes of the same names (tuples as
        lists), except :attr:`not_params`. Models that store their arguments otherwise override it."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: _jsonable(getattr(self, n)) for n in names if n not in self.not_params}

    def __repr__(self) -> str:
        """``KmerLogistic(k_min=1, k_max=6, …)``: the class and its hyperparameters."""
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


_NOT_BASE = re.compile(r"[^ACGTNacgtn]")


def batch_or(batch_size: int | None, default: int) -> int:
    """``batch_size``, or ``default`` when None; anything but a positive integer is refused (a
    negative size used to skip every batch and return the empty output buffer as scores)."""
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch size (--batch-size) {batch_size!r} is not allowed; use a positive integer")
    return int(batch_size)


def check_sequences(sequences: Any, what: str = "training", *, min_length: int = 1) -> list[str]:
    """``sequences`` as a list of str, or a one-line InputError naming the first bad one.

    Every model checks its input with this before fitting or scoring, so that nothing is scored
    silently wrong: a single string (which would be scored base by base), a missing value (None,
    NaN), a character other than A/C/G/T/N (either case), or fewer than ``min_length`` bases
    (ULMFiT needs one whole k-mer) are refused. ``what`` ("training", "validation",
    "prediction") starts the message.
    """
    if isinstance(sequences, (str, bytes)):
        raise InputError(f"{what} data: got one string, not a list of sequences; pass [sequence]")
    if type(sequences).__name__ == "DataFrame":  # iterating it would give its column names
        raise InputError(f"{what} data: got a table; pass its sequence column (df['sequence'])")
    seqs = list(sequences)
    for i, seq in enumerate(seqs):
        if not isinstance(seq, str):
            shown = repr(seq)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise InputError(f"{what} data: sequence {i + 1} is {shown} ({type(seq).__name__}), not a string; "
                             "drop missing values first (and decode bytes)")
        if len(seq) < min_length:
            raise InputError(f"{what} data: sequence {i + 1} has {len(seq)} bp; this model needs at least "
                             f"{min_length}; drop or extend it")
        bad = _NOT_BASE.search(seq)
        if bad:
            raise InputError(f"{what} data: sequence {i + 1} has {bad.group()!r} at position {bad.start() + 1}; "
                             "sequences hold A, C, G, T and N only (the readers turn IUPAC codes into N with "
                             "mask_iupac=True, --mask-iupac on the command line)")
    return seqs


def check_binary_labels(sequences: Sequence[str], labels: Any, what: str = "training", *,
                        both_classes: bool = True) -> np.ndarray:
    """Labels for ``sequences`` as int64 (n,), or a one-line InputError naming the first bad one.

    ``labels`` must be 1-D with one entry per sequence, each equal to 0 or 1 (ints, floats or
    their strings: ``"1"`` is fine, ``2``, ``0.5``, ``"yes"``, NaN and None are not). With
    ``both_classes`` (the default) both labels must occur. ``what`` ("training", "validation")
    starts the message.
    """
    if labels is None:
        raise InputError(f"{what} data: {len(sequences)} sequences but no labels; pass one 0/1 label per sequence")
    raw = np.asarray(labels, dtype=object) if not isinstance(labels, np.ndarray) else labels
    if raw.ndim != 1:
        raise InputError(f"{what} data: labels of shape {raw.shape}; pass one label per sequence")
    if len(raw) != len(sequences):
        raise InputError(f"{what} data: {len(sequences)} sequences but {len(raw)} labels; pass one label per sequence")
    if len(raw) == 0:
        raise InputError(f"{what} data is empty; give at least one enhancer and one non-enhancer")
    try:
        y = raw.astype(np.float64)
    except (TypeError, ValueError):  # some value is not a number: find which
        y = np.array([_as_float(v) for v in raw], dtype=np.float64)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = raw[i : i + 1].tolist()[0]  # a plain Python value for the message
        raise InputError(f"{what} data: label {value!r} (sequence {i + 1}) is not 0 or 1; "
                         "use 1 for enhancer, 0 for non-enhancer")
    y = y.astype(np.int64)
    if both_classes and np.unique(y).size < 2:
        raise InputError(f"{what} data has only label {int(y[0])}; it needs both classes "
                         "(enhancers 1 and non-enhancers 0)")
    return y


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _what_is_there(directory: Path) -> str:
    """Why ``directory`` is not a model, for the error message."""
    if not directory.exists():
        return "no such directory"
    if not directory.is_dir():
        return "is a file, not a run directory"
    if (directory / "lm.json").is_file():
        return "is a language model (lm.json), not a classifier"
    if (directory / "checkpoints").is_dir():
        return "no model.json here (an unfinished run? continue it with 'train ... --resume')"
    return "no model.json here"


def read_model_json(directory: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Read ``directory/model.json`` or raise a one-line :class:`InputError`.

    With ``kind`` given, a model.json recording another ``"kind"`` is an InputError too.
    """
    path = Path(directory) / "model.json"
    if not path.is_file():
        raise InputError(f"{directory}: {_what_is_there(Path(directory))}; give a run directory written by 'train' "
                         "(or by 'ensemble')")
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise InputError(f"{path}: holds a {type(meta).__name__}, not a model record; the run directory was "
                         "damaged or edited: train it again")
    if kind is not None and meta.get("kind") != kind:
        raise InputError(f"{directory}/model.json: kind is {meta.get('kind')!r}, expected {kind!r}")
    return meta


def model_fingerprint(directory: str | Path) -> str:
    """Hex SHA-256 of a saved model: its ``model.json`` and ``*.safetensors`` files (names and bytes).

    Two directories holding the same saved model have the same fingerprint; a model refitted or
    replaced in the same directory (almost surely) gets another one."""
    import hashlib

    from genomic_ulmfit.utils import sha256_file

    directory = Path(directory)
    h = hashlib.sha256()
    for f in [directory / "model.json", *sorted(directory.glob("*.safetensors"))]:
        h.update(f"{f.name}:{sha256_file(f)}\n".encode())
    return h.hexdigest()


def save_arrays(directory: str | Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Save a model held in NumPy arrays: ``directory/weights.safetensors`` + ``model.json``.

    Parameters
    ----------
    directory : str or Path
        Created when missing.
    meta : dict
        JSON-able ``model.json`` content (``kind``, ``params``...); ``"weights"`` naming the
        safetensors file is appended to it.
    arrays : dict name -> np.ndarray
        Written as they are (dtype and shape kept; made C-contiguous). Both files are written
        atomically.
    """
    from safetensors.numpy import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / WEIGHTS_FILE) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
    write_json_atomic(directory / "model.json", {**meta, "weights": WEIGHTS_FILE})


def restore_arrays(
    cls: type[M], directory: str | Path, meta: dict[str, Any]
) -> tuple[M, dict[str, np.ndarray]]:
    """An unfitted ``cls(**meta["params"])`` and the arrays saved by :func:`save_arrays`.

    ``meta`` is the ``model.json`` of ``directory`` (see :func:`read_model_json`). A missing
    weights file or params the class does not take are one-line InputErrors; the caller sets the
    fitted attributes from the arrays.
    """
    from safetensors.numpy import load_file

    path = Path(directory) / meta.get("weights", WEIGHTS_FILE)
    if not path.is_file():
        raise InputError(f"{path}: weights file missing; re-save the model")
    try:
        model = cls(**meta["params"])
    except TypeError as exc:
        raise InputError(f"{directory}/model.json: bad params ({exc})") from None
    try:
        arrays = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error type for truncated or foreign files
        raise InputError(f"{path}: not a readable safetensors file ({exc}); train the model again") from None
    check_finite(arrays.items(), path)
    return model, arrays


def check_finite(named_arrays, where: Any) -> None:
    """Refuse saved weights holding NaN or infinity (they would score every sequence NaN)."""
    for name, arr in named_arrays:
        values = np.asarray(arr.detach().cpu() if hasattr(arr, "detach") else arr)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise InputError(f"{where}: weight {name!r} holds NaN or infinite values; train the model again")


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
    try:
        return MODEL_REGISTRY[kind].load(directory)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
        # model.json edited or from an incompatible writer: name it rather than show a traceback
        raise InputError(f"{directory}: cannot rebuild the saved {kind} model from its model.json and weights "
                         f"({type(exc).__name__}: {exc}); the run directory was damaged or edited: train it "
                         "again") from None
