"""One-cycle schedule and discriminative learning rates (fastai semantics)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genomic_ulmfit.training.schedules import even_mults, lr_range, one_cycle


def test_one_cycle_known_points():
    total, lr_max = 1000, 1e-2
    lr0, mom0 = one_cycle(0, total, lr_max)
    assert lr0 == pytest.approx(lr_max / 25.0) and mom0 == pytest.approx(0.95)
    lr_peak, mom_peak = one_cycle(250, total, lr_max)
    assert lr_peak == pytest.approx(lr_max) and mom_peak == pytest.approx(0.85)
    lr_end, mom_end = one_cycle(total, total, lr_max)
    assert lr_end == pytest.approx(lr_max / 1e5) and mom_end == pytest.approx(0.95)
    lr_last, _ = one_cycle(total - 1, total, lr_max)
    assert lr_max / 1e5 < lr_last < lr_max / 1e4  # just above the floor, as in fastai


def test_one_cycle_golden_value_inside_warmup():
    # pos 0.1 → 0.4 of the warm-up cosine from 1/25 to 1: 0.04 + (1 + cos(0.6 pi)) * 0.96 / 2
    lr, mom = one_cycle(10, 100, 1.0)
    assert lr == pytest.approx(0.04 + (1 + math.cos(math.pi * 0.6)) * 0.96 / 2)
    assert mom == pytest.approx(0.95 + (1 + math.cos(math.pi * 0.6)) * (0.85 - 0.95) / 2)


def test_one_cycle_shape_monotonic():
    lrs = np.array([one_cycle(s, 200, 1.0)[0] for s in range(201)])
    moms = np.array([one_cycle(s, 200, 1.0, moms=(0.8, 0.7, 0.8))[1] for s in range(201)])
    assert np.all(np.diff(lrs[:51]) > 0) and np.all(np.diff(lrs[50:]) < 0)
    assert np.all(np.diff(moms[:51]) < 0) and np.all(np.diff(moms[50:]) > 0)
    assert moms.min() == pytest.approx(0.7) and moms[0] == pytest.approx(0.8)


def test_one_cycle_per_group_arrays():
    lr_max = np.array([1e-4, 1e-3, 1e-2])
    lr, _ = one_cycle(0, 100, lr_max)
    np.testing.assert_allclose(lr, lr_max / 25)
    lr, _ = one_cycle(25, 100, lr_max)
    np.testing.assert_allclose(lr, lr_max)


def test_even_mults_values():
    np.testing.assert_allclose(even_mults(1e-4, 1e-2, 3), [1e-4, 1e-3, 1e-2])
    np.testing.assert_allclose(even_mults(1.0, 16.0, 5), [1, 2, 4, 8, 16])
    np.testing.assert_allclose(even_mults(1e-4, 1e-2, 1), [1e-2])


def test_lr_range_conventions():
    np.testing.assert_allclose(lr_range(1e-3, 4), [1e-3] * 4)
    np.testing.assert_allclose(lr_range((1e-5, 1e-3), 3), [1e-5, 1e-4, 1e-3])
    np.testing.assert_allclose(lr_range(slice(1e-5, 1e-3), 3), [1e-5, 1e-4, 1e-3])
    np.testing.assert_allclose(lr_range((None, 1e-2), 3), [1e-3, 1e-3, 1e-2])
    np.testing.assert_allclose(lr_range([1, 2, 3], 3), [1, 2, 3])
    ulmfit = lr_range((1e-2 / 2.6**4, 1e-2), 5)
    np.testing.assert_allclose(ulmfit[1:] / ulmfit[:-1], 2.6)
    with pytest.raises(ValueError):
        lr_range([1, 2], 3)
