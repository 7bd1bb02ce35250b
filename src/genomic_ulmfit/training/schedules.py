"""Learning-rate and momentum schedules as pure functions of the optimisation step.

``one_cycle`` reproduces fastai's ``fit_one_cycle``: the learning rate rises on a cosine from
``lr_max / div`` to ``lr_max`` during the first ``pct_start`` of training, then falls on a cosine
to ``lr_max / div_final``; momentum moves the opposite way (``moms[0] → moms[1] → moms[2]``).

Learning-rate convention (:data:`LR`), as fastai's ``lr_max`` argument:

* a float ``lr`` — every layer group gets ``lr``;
* a 2-tuple ``(lo, hi)`` or ``slice(lo, hi)`` — discriminative rates, geometrically spaced from
  ``lo`` (first group) to ``hi`` (last group): ``even_mults(lo, hi, n_groups)``;
* ``(None, hi)`` or ``slice(None, hi)`` — ``hi / 10`` for every group but the last, ``hi`` for the last;
* a list or 1-D array of length ``n_groups`` — used as given.

ULMFiT's classifier stages use ``(lr / 2.6**4, lr)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LR = float | tuple[float | None, float] | slice | Sequence[float] | np.ndarray


def even_mults(start: float, stop: float, n: int) -> np.ndarray:
    """``n`` geometrically spaced values from ``start`` to ``stop`` (fastai ``even_mults``).

    Parameters
    ----------
    start, stop : float
        First and last value (both > 0).
    n : int
        Number of values; ``n == 1`` gives ``[stop]`` as in fastai.

    Returns
    -------
    np.ndarray of float64, shape (n,)
    """
    if n < 1:
        raise ValueError(f"even_mults: n must be >= 1, got {n}")
    if n == 1:
        return np.array([float(stop)])
    step = (stop / start) ** (1.0 / (n - 1))
    return np.array([start * step**i for i in range(n)], dtype=np.float64)


def lr_range(lr: LR, n_groups: int) -> np.ndarray:
    """Per-group learning rates for ``n_groups`` layer groups from the :data:`LR` convention.

    Returns
    -------
    np.ndarray of float64, shape (n_groups,)
    """
    if isinstance(lr, slice):
        lr = (lr.start, lr.stop)
    if isinstance(lr, tuple):
        if len(lr) != 2:
            raise ValueError(f"lr tuple must be (lo, hi) or (None, hi), got {lr!r}")
        lo, hi = lr
        if hi is None:
            raise ValueError(f"lr tuple needs an upper value, got {lr!r}")
        if lo:
            return even_mults(float(lo), float(hi), n_groups)
        return np.array([hi / 10.0] * (n_groups - 1) + [float(hi)], dtype=np.float64)
    if isinstance(lr, (list, np.ndarray)):
        arr = np.asarray(lr, dtype=np.float64).ravel()
        if arr.size != n_groups:
            raise ValueError(f"lr list has {arr.size} values but there are {n_groups} layer groups")
        return arr
    return np.full(n_groups, float(lr), dtype=np.float64)


def _cos(start: float | np.ndarray, end: float | np.ndarray, pos: float) -> float | np.ndarray:
    """fastai ``SchedCos``: cosine from ``start`` (pos=0) to ``end`` (pos=1)."""
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def _combined_cos(pos: float, pct: float, start, middle, end):
    """fastai ``combined_cos``: cosine start→middle over ``[0, pct]``, then middle→end over ``[pct, 1]``."""
    if pos >= 1.0:
        return _cos(middle, end, 1.0)
    if pos < pct:
        return _cos(start, middle, pos / pct)
    return _cos(middle, end, (pos - pct) / (1 - pct))


def one_cycle(
    step: int,
    total_steps: int,
    lr_max: float | np.ndarray,
    *,
    pct_start: float = 0.25,
    div: float = 25.0,
    div_final: float = 1e5,
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
) -> tuple[float | np.ndarray, float]:
    """Learning rate and momentum of the one-cycle policy at ``step`` (fastai semantics; the
    defaults are fastai v2's: v1 warmed up for 30% of the cycle and ended at ``lr_max / 2.5e5``).

    The position in training is ``pos = step / total_steps`` (fastai evaluates the schedule before
    each batch, so step 0 gives ``lr_max / div`` and the last step is just above
    ``lr_max / div_final``).

    Parameters
    ----------
    step : int
        Optimisation step, 0-based.
    total_steps : int
        Number of steps of the whole cycle (epochs × batches per epoch).
    lr_max : float or np.ndarray of shape (n_groups,)
        Peak learning rate(s); an array gives per-group (discriminative) rates.
    pct_start : float, default 0.25
        Fraction of the cycle spent warming up.
    div : float, default 25.0
        Initial rate is ``lr_max / div``.
    div_final : float, default 1e5
        Final rate is ``lr_max / div_final``.
    moms : (float, float, float), default (0.95, 0.85, 0.95)
        Momentum (Adam's beta1) at the start, at the peak and at the end.

    Returns
    -------
    (lr, mom)
        ``lr`` has the type/shape of ``lr_max``; ``mom`` is a float.
    """
    if total_steps < 1:
        raise ValueError(f"one_cycle: total_steps must be >= 1, got {total_steps}")
    if not 0.0 < pct_start < 1.0:
        raise ValueError(f"one_cycle: pct_start must be in (0, 1), got {pct_start}")
    pos = min(max(step / total_steps, 0.0), 1.0)
    lr_max_arr = np.asarray(lr_max, dtype=np.float64) if not np.isscalar(lr_max) else float(lr_max)
    lr = _combined_cos(pos, pct_start, lr_max_arr / div, lr_max_arr, lr_max_arr / div_final)
    mom = float(_combined_cos(pos, pct_start, *moms))
    return lr, mom
