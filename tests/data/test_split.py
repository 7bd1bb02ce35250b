"""Splits and folds: stratified, deterministic, duplicates and reverse complements kept together."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomic_ulmfit.data import split
from genomic_ulmfit.data.dataset import records_to_frame
from genomic_ulmfit.data.readers import Record
from genomic_ulmfit.data.sequences import canonical, revcomp
from genomic_ulmfit.data.split import assign_folds, assign_splits, validate_fractions
from genomic_ulmfit.errors import ConfigError


def random_table(n_per=200, species=("Human", "Dog"), length=40, seed=0, extra=()):
    rng = np.random.default_rng(seed)
    recs = []
    for sp in species:
        for lab in (0, 1):
            for i in range(n_per):
                seq = "".join(rng.choice(list("ACGT"), size=length))
                recs.append(Record(f"{sp}:{lab}:{i}", seq, lab, sp, "f"))
    recs.extend(extra)
    return records_to_frame(recs)


def test_fractions_validation():
    assert validate_fractions("0.7,0.2,0.1") == (0.7, 0.2, 0.1)
    assert validate_fractions([1, 0, 0]) == (1.0, 0.0, 0.0)
    for bad, msg in [
        ("0.8,0.1", "three numbers"),
        ((0.8, 0.3, -0.1), ">= 0"),
        ((0.5, 0.2, 0.2), "sum to 1, they sum to 0.9"),
        ("a,b,c", "three numbers like"),
    ]:
        with pytest.raises(ConfigError, match=msg) as err:
            validate_fractions(bad)
        assert str(bad)[:3] in str(err.value)  # names the value received


def test_stratified_proportions():
    df = assign_splits(random_table(), (0.8, 0.1, 0.1), seed=1)
    counts = df.groupby(["species", "label", "split"]).size()
    for sp in ("Human", "Dog"):
        for lab in (0, 1):
            assert counts[(sp, lab, "train")] == 160
            assert counts[(sp, lab, "valid")] == 20
            assert counts[(sp, lab, "test")] == 20


def test_deterministic_per_seed_and_seed_matters():
    df = random_table()
    a = assign_splits(df, seed=3)["split"].tolist()
    b = assign_splits(df, seed=3)["split"].tolist()
    c = assign_splits(df, seed=4)["split"].tolist()
    assert a == b and a != c


def test_stratum_independent_of_other_species():
    both = assign_splits(random_table(species=("Human", "Dog")), seed=0)
    human = assign_splits(random_table(species=("Human",)), seed=0)
    assert both[both["species"] == "Human"]["split"].tolist() == human["split"].tolist()


def test_duplicates_rc_and_cross_species_copies_stay_together():
    base = random_table(n_per=50)
    seq = base["sequence"][0]
    extra = [
        Record("dup", seq, 0, "Human", "f"),
        Record("rc", revcomp(seq), 1, "Human", "f"),
        Record("other_species", seq, 0, "Mouse", "f"),
    ]
    df = random_table(n_per=50, extra=extra)
    for seed in range(10):
        out = assign_splits(df, seed=seed)
        group = out[out["sequence"].map(canonical) == canonical(seq)]
        assert len(group) == 4 and group["split"].nunique() == 1


@settings(max_examples=25, deadline=None)
@given(
    seqs=st.lists(st.text(alphabet="ACGT", min_size=4, max_size=12), min_size=2, max_size=40),
    flips=st.lists(st.booleans(), min_size=40, max_size=40),
    seed=st.integers(0, 1000),
)
def test_property_canonical_groups_never_split(seqs, flips, seed):
    recs = [
        Record(f"r{i}", revcomp(s) if flips[i] else s, i % 2, "x" if i % 3 else "y", "f")
        for i, s in enumerate(seqs)
    ]
    df = records_to_frame(recs)
    out = assign_splits(df, (0.5, 0.25, 0.25), seed=seed)
    assert out.groupby(out["sequence"].map(canonical))["split"].nunique().max() == 1
    folds = assign_folds(out, k=3, seed=seed)
    cv = folds[folds["split"] != "test"]
    if len(cv):
        assert cv.groupby(cv["sequence"].map(canonical))["fold"].nunique().max() == 1
    assert (folds.loc[folds["split"] == "test", "fold"] == -1).all()


def test_folds_balanced_and_test_excluded():
    df = assign_splits(random_table(), (0.8, 0.0, 0.2), seed=0)
    out = assign_folds(df, k=4, seed=0)
    assert out["fold"].dtype == np.int16
    assert (out.loc[out["split"] == "test", "fold"] == -1).all()
    sizes = out.loc[out["split"] != "test"].groupby(["species", "label", "fold"]).size()
    assert sizes.min() == sizes.max() == 40
    unsplit = assign_folds(random_table(n_per=20), k=5)
    assert set(unsplit["fold"]) == {0, 1, 2, 3, 4}
    with pytest.raises(ConfigError, match="k=1"):
        assign_folds(df, k=1)


def test_resplit_drops_stale_folds():
    df = assign_folds(assign_splits(random_table(n_per=20)), k=2)
    assert "fold" not in assign_splits(df, seed=5).columns


def test_near_duplicates_grouped_with_near_k():
    rng = np.random.default_rng(7)
    long = "".join(rng.choice(list("ACGT"), size=700))
    extra = [
        Record(f"w{i}", long[i * 100 : i * 100 + 400], 1, "Human", "f") for i in range(4)
    ]  # overlapping windows
    df = random_table(n_per=30, length=400, extra=extra)
    together = [assign_splits(df, seed=s, near_k=31) for s in range(6)]
    assert all(t[t["id"].str.startswith("w")]["split"].nunique() == 1 for t in together)
    apart = [assign_splits(df, seed=s) for s in range(6)]
    assert any(t[t["id"].str.startswith("w")]["split"].nunique() > 1 for t in apart)


def mixed_group_table(seed=0):
    """300 random rows per label plus 60 copies of one sequence: first copy positive, 50 negative."""
    labels = [1] + [0] * 50 + [1] * 9
    seq = "".join(np.random.default_rng(99).choice(list("ACGT"), size=40))
    extra = [Record(f"dup{i}", seq, lab, "Human", "f") for i, lab in enumerate(labels)]
    return random_table(n_per=300, species=("Human",), seed=seed, extra=extra)


def test_group_spanning_labels_does_not_unbalance_folds():
    # the stratified fill counts the 60 copies as positives (their first row), so their fold
    # would get ~10 other positives and ~60 other negatives: 14% positives instead of 48%
    df = mixed_group_table()
    out = assign_folds(df, k=5, seed=0)
    assert out.loc[out["id"].str.startswith("dup"), "fold"].nunique() == 1  # still one group
    shares = out.groupby("fold")["label"].mean()
    overall = out["label"].mean()
    assert (shares - overall).abs().max() <= split.MAX_SHARE_GAP
    assert out["fold"].value_counts().max() - out["fold"].value_counts().min() <= 2
    assert assign_folds(df, k=5, seed=0)["fold"].tolist() == out["fold"].tolist()  # deterministic


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 40), st.floats(0, 1)), min_size=1, max_size=12),
    st.integers(0, 3),
)
def test_property_balanced_groups_whole_and_no_worse(groups_spec, seed):
    rng = np.random.default_rng(seed)
    labels, group_of = [], []
    for g, (size, pos) in enumerate(groups_spec):
        labels += list((rng.random(size) < pos).astype(int))
        group_of += [g] * size
    n_single = 200
    labels += list(rng.integers(0, 2, n_single))
    group_of += list(range(len(groups_spec), len(groups_spec) + n_single))
    strata, groups = np.asarray(labels), np.asarray(group_of)
    bins = split._balance_bins(strata, groups, [0.2] * 5, seed)
    assert set(bins) <= set(range(5))
    frame = pd.DataFrame({"g": groups, "b": bins})
    assert frame.groupby("g")["b"].nunique().max() == 1
    # every bin holds its fifth of each stratum, give or take the largest group
    counts = pd.crosstab(bins, strata).reindex(index=range(5), fill_value=0).to_numpy()
    largest = max(size for size, _ in groups_spec)
    assert np.abs(counts - counts.sum(0) / 5).max() <= largest + 1


def test_split_problems_name_classless_splits_and_empty_folds():
    df = pd.DataFrame({"species": ["H"] * 6 + ["M"] * 4, "label": [0, 1, 0, 1, 0, 0, 0, 1, 0, 1],
                       "split": ["train", "train", "valid", "valid", "test", "test",
                                 "train", "train", "valid", "valid"],
                       "fold": [0, 0, 2, 2, -1, -1, 0, 0, 2, 2]})
    weights = (0.8, 0.1, 0.1)
    assert split.split_problems(df, weights) == [
        "species H: the test split holds no positives (AUROC cannot be computed on it); import more sequences "
        "or give it a larger share (`genomic-ulmfit data split --fractions`)",
        "species M: the test split is empty (AUROC cannot be computed on it); import more sequences or give it "
        "a larger share (`genomic-ulmfit data split --fractions`)",
    ]
    assert split.split_problems(df, (0.9, 0.1, 0.0)) == []  # no test split was asked for
    folds = split.split_problems(df, (0.9, 0.1, 0.0), folds=4)
    assert folds == ["2 of 4 folds are empty: there are fewer groups of (near-)duplicates than folds; use fewer "
                     "--folds"]
    df.loc[df["fold"] == 2, "label"] = 1
    assert "1 of 4 folds hold one class only" in split.split_problems(df, (0.9, 0.1, 0.0), folds=4)[-1]
