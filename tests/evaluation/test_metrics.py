"""Metrics agree with scikit-learn; bootstrap CIs and the DeLong test behave as documented."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.evaluation.metrics import (
    UndefinedMetricWarning,
    _average_precision_rows,
    auroc,
    auroc_rows,
    binary_metrics,
    bootstrap_ci,
    bootstrap_index_blocks,
    bootstrap_indices,
    bootstrap_replicates,
    delong_covariance,
    delong_test,
    delong_vs_best,
    evaluate_predictions,
)


def _data(n: int, seed: int, ties: bool = False, signal: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + signal * (2 * y - 1))))
    if ties:
        s = np.round(s, 1)  # many exact ties, including at the 0.5 threshold
    return y, s


def _sklearn_metrics(y: np.ndarray, s: np.ndarray, t: float = 0.5) -> dict[str, float]:
    pred = (s >= t).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "auroc": roc_auc_score(y, s),
        "auprc": average_precision_score(y, s),
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred, zero_division=0),
        "recall": recall_score(y, pred, zero_division=0),
        "specificity": tn / (tn + fp) if tn + fp else 0.0,
        "mcc": matthews_corrcoef(y, pred),
    }


@pytest.mark.parametrize("n,seed,ties", [(7, 0, False), (50, 1, True), (400, 2, False), (1000, 3, True)])
def test_binary_metrics_equal_sklearn(n, seed, ties):
    y, s = _data(n, seed, ties)
    ours = binary_metrics(y, s)
    ref = _sklearn_metrics(y, s)
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key
    assert ours["n"] == n and ours["n_pos"] == y.sum()
    assert all(type(v) is float for v in ours.values())


def test_known_small_example():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    m = binary_metrics(y, s)
    assert m["auroc"] == pytest.approx(0.75)
    assert m["auprc"] == pytest.approx((1 / 2) * 1 + (1 / 2) * (2 / 3))
    # threshold 0.5: only 0.8 is called positive -> tp=1, fn=1, tn=2, fp=0
    assert (m["accuracy"], m["precision"], m["recall"], m["specificity"]) == (0.75, 1.0, 0.5, 1.0)


def test_threshold_is_inclusive():
    m = binary_metrics(np.array([0, 1]), np.array([0.2, 0.5]))
    assert m["recall"] == 1.0 and m["accuracy"] == 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=2, max_size=40))
def test_auroc_and_ap_equal_sklearn_property(pairs):
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float) / 5
    if y.min() == y.max():
        return
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert binary_metrics(y, s)["auprc"] == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_one_class_gives_nan_with_reason():
    y = np.ones(10, dtype=int)
    s = np.linspace(0, 1, 10)
    with pytest.warns(UndefinedMetricWarning, match="no negatives"):
        m = binary_metrics(y, s)
    assert math.isnan(m["auroc"]) and math.isnan(m["auprc"])
    assert m["recall"] == pytest.approx(0.5)
    assert math.isnan(m["specificity"]) and math.isnan(m["mcc"])  # undefined without negatives, not 0
    assert all(math.isnan(v) for v in bootstrap_ci(y, s))
    with pytest.warns(UndefinedMetricWarning, match="no positives"):
        m = binary_metrics(1 - y, s)
    assert math.isnan(m["recall"]) and math.isnan(m["mcc"]) and m["specificity"] == pytest.approx(0.5)


def test_precision_without_positive_calls_is_nan_and_mcc_of_constant_calls_is_0():
    m = binary_metrics(np.array([0, 1, 0, 1]), np.full(4, 0.1))
    assert math.isnan(m["precision"]) and m["mcc"] == 0.0 and m["recall"] == 0.0


def test_no_ci_from_a_handful_of_sequences():
    # One positive and one negative can only be resampled as themselves: [1.0, 1.0] is no interval.
    assert all(math.isnan(v) for v in bootstrap_ci([1, 0], [0.9, 0.1]))
    y, s = np.array([1] * 5 + [0] * 5), np.linspace(0, 1, 10)[::-1]
    lo, hi = bootstrap_ci(y, s, n_boot=100)
    assert lo == hi == 1.0  # 5 of each: a CI is given (here a perfect separation in every replicate)
    table = evaluate_predictions(pd.DataFrame({"species": "A", "label": [1, 0, 1, 0], "score": [0.9, 0.1, 0.8, 0.2]}))
    row = table.iloc[0]
    assert row["auroc"] == 1.0 and math.isnan(row["auroc_lo"]) and "no bootstrap CI below 5" in row["note"]


def test_delong_vs_best_skips_species_with_fewer_than_two_of_a_class():
    rows = []
    for model, scores in (("a", [0.9, 0.1, 0.8, 0.3, 0.6, 0.4]), ("b", [0.7, 0.2, 0.6, 0.5, 0.9, 0.1])):
        rows += [{"model": model, "id": f"x{i}", "species": "big", "label": [1, 0][i % 2], "score": v}
                 for i, v in enumerate(scores)]
        rows += [{"model": model, "id": f"t{i}", "species": "tiny", "label": 1 - i, "score": v}
                 for i, v in enumerate(scores[:2])]
    table = delong_vs_best(pd.DataFrame(rows))
    assert set(table["species"]) == {"big"} and len(table) == 2


@pytest.mark.parametrize(
    "y,s,match",
    [
        ([0, 2], [0.1, 0.2], "only 0 and 1"),
        ([0, 1], [0.1], "has 2 values"),
        ([0, 1], [0.1, float("nan")], "non-finite"),
        ([], [], "empty"),
    ],
)
def test_bad_inputs_raise_one_line(y, s, match):
    with pytest.raises(InputError, match=match) as exc:
        binary_metrics(np.array(y), np.array(s))
    assert "\n" not in str(exc.value)


def test_vectorized_auroc_equals_sklearn_per_replicate():
    y, s = _data(120, 4, ties=True)
    idx = bootstrap_indices(y, n_boot=30, seed=5)  # (30, 120)
    n_pos = int(y.sum())
    ours = auroc_rows(s[idx], n_pos)
    ap = _average_precision_rows(s[idx], y[idx])
    for b in range(30):
        assert ours[b] == pytest.approx(roc_auc_score(y[idx[b]], s[idx[b]]), abs=1e-12)
        assert ap[b] == pytest.approx(average_precision_score(y[idx[b]], s[idx[b]]), abs=1e-12)


def test_bootstrap_is_stratified():
    y, _ = _data(101, 6)
    idx = bootstrap_indices(y, n_boot=50, seed=0)
    assert idx.shape == (50, 101)
    assert (y[idx].sum(axis=1) == y.sum()).all()
    assert (y[idx[:, : y.sum()]] == 1).all()


def test_bootstrap_ci_deterministic_contains_point_and_narrows():
    y, s = _data(300, 7)
    point = auroc(y, s)
    a = bootstrap_ci(y, s, n_boot=400, seed=1)
    assert a == bootstrap_ci(y, s, n_boot=400, seed=1)
    assert a != bootstrap_ci(y, s, n_boot=400, seed=2)
    assert a[0] < point < a[1]
    y_big, s_big = _data(3000, 7)
    b = bootstrap_ci(y_big, s_big, n_boot=400, seed=1)
    assert b[0] < auroc(y_big, s_big) < b[1]
    assert (b[1] - b[0]) < 0.6 * (a[1] - a[0])  # width shrinks ~ 1/sqrt(n)
    lo, hi = bootstrap_ci(y, s, metric="auprc", n_boot=400, seed=1)
    assert lo < binary_metrics(y, s)["auprc"] < hi


def test_bootstrap_chunking_gives_same_replicates(monkeypatch):
    import genomic_ulmfit.evaluation.metrics as metrics

    y, s = _data(200, 8)
    whole = bootstrap_replicates(y, s, n_boot=64, seed=3)
    monkeypatch.setattr(metrics, "_CHUNK_CELLS", 1000)  # 5 rows per chunk
    assert np.array_equal(whole, bootstrap_replicates(y, s, n_boot=64, seed=3))


def test_bootstrap_rejects_unknown_metric():
    with pytest.raises(ConfigError, match="auroc"):
        bootstrap_ci([0, 1], [0.2, 0.3], metric="f1")


def _naive_delong(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """O(n^2) DeLong (1988) from the pairwise kernel psi(x, y) = 1 if x > y, 1/2 if equal."""
    pos, neg = y == 1, y == 0
    aucs, v10s, v01s = [], [], []
    for s in scores:
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        aucs.append(psi.mean())
        v10s.append(psi.mean(axis=1))  # per positive
        v01s.append(psi.mean(axis=0))  # per negative
    s10 = np.cov(np.array(v10s))
    s01 = np.cov(np.array(v01s))
    return np.array(aucs), s10 / pos.sum() + s01 / neg.sum()


def test_delong_matches_naive_reference():
    y, a = _data(150, 9, ties=True)
    rng = np.random.default_rng(10)
    b = np.round(a + rng.normal(0, 0.2, a.size), 2)
    auc, cov = delong_covariance(y, a, b)
    ref_auc, ref_cov = _naive_delong(y, [a, b])
    np.testing.assert_allclose(auc, ref_auc, atol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-10, atol=1e-14)
    auc_a, auc_b, z, p = delong_test(y, a, b)
    var = ref_cov[0, 0] + ref_cov[1, 1] - 2 * ref_cov[0, 1]
    assert z == pytest.approx((ref_auc[0] - ref_auc[1]) / math.sqrt(var))
    assert p == pytest.approx(2 * norm.sf(abs(z)))
    assert (auc_a, auc_b) == pytest.approx((roc_auc_score(y, a), roc_auc_score(y, b)))


def test_delong_identical_scores_p_one():
    y, s = _data(80, 11)
    auc_a, auc_b, z, p = delong_test(y, s, s.copy())
    assert auc_a == auc_b and z == 0.0 and p == 1.0


def test_delong_variance_close_to_bootstrap_variance():
    y, s = _data(800, 12)
    _, cov = delong_covariance(y, s)
    boot = bootstrap_replicates(y, s, n_boot=2000, seed=0)
    assert 0.75 < boot.var() / cov[0, 0] < 1.3


def test_delong_detects_a_better_model():
    y, good = _data(600, 13, signal=1.5)
    rng = np.random.default_rng(14)
    bad = good + rng.normal(0, 1.0, good.size)
    auc_a, auc_b, z, p = delong_test(y, good, bad)
    assert auc_a > auc_b and z > 0 and p < 1e-3


def test_delong_needs_both_classes():
    with pytest.raises(InputError, match="both classes"):
        delong_test(np.ones(5, int), np.arange(5.0), np.arange(5.0))


def test_evaluate_predictions_rows_and_values():
    rows = []
    for model, shift in (("lr", 0.5), ("cnn", 1.0)):
        for species, seed in (("Human", 1), ("Mouse", 2)):
            y, s = _data(200, seed, signal=shift)
            rows += [
                {"model": model, "species": species, "label": a, "score": b}
                for a, b in zip(y, s, strict=True)
            ]
    df = pd.DataFrame(rows)
    table = evaluate_predictions(df, n_boot=200)
    assert list(zip(table["model"], table["species"], strict=True)) == [
        ("lr", "Human"),
        ("lr", "Mouse"),
        ("lr", "all"),
        ("cnn", "Human"),
        ("cnn", "Mouse"),
        ("cnn", "all"),
    ]
    for r in table.to_dict("records"):
        sub = df[df["model"] == r["model"]]
        if r["species"] != "all":
            sub = sub[sub["species"] == r["species"]]
        assert r["n_test"] == len(sub)
        assert r["auroc"] == pytest.approx(roc_auc_score(sub["label"], sub["score"]))
        assert r["auroc_lo"] < r["auroc"] < r["auroc_hi"]
        assert r["note"] == ""


def test_evaluate_predictions_one_class_species_and_errors():
    df = pd.DataFrame(
        {"species": ["A"] * 4 + ["B"] * 3, "label": [0, 1, 0, 1, 1, 1, 1], "score": np.linspace(0, 1, 7)}
    )
    table = evaluate_predictions(df, n_boot=50)
    b = table[table["species"] == "B"].iloc[0]
    assert table["model"].unique().tolist() == ["model"]
    assert math.isnan(b["auroc"]) and "no negatives" in b["note"]
    with pytest.raises(InputError, match="score"):
        evaluate_predictions(df.drop(columns="score"))


@pytest.mark.parametrize("rows", [1, 7, 30, 100])
def test_bootstrap_index_blocks_are_the_rows_of_one_draw(rows):
    # drawn a block at a time (bounded memory), the replicates are those of one draw: same CIs as before
    y = (np.random.default_rng(2).random(90) < 0.3).astype(int)
    blocks = list(bootstrap_index_blocks(y, 30, seed=5, rows=rows))
    assert all(len(b) <= rows for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), bootstrap_indices(y, n_boot=30, seed=5))
    # ... and those every earlier CI was drawn with: all positives' draws, then all negatives'
    pos, neg, rng = np.flatnonzero(y == 1), np.flatnonzero(y == 0), np.random.default_rng(5)
    earlier = np.concatenate([pos[rng.integers(0, pos.size, size=(30, pos.size))],
                              neg[rng.integers(0, neg.size, size=(30, neg.size))]], axis=1)
    np.testing.assert_array_equal(np.concatenate(blocks), earlier)
