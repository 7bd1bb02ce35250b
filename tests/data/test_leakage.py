"""Leakage: exact/RC duplicates within and between datasets, k-mer near-duplicates."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from genomic_ulmfit.data.dataset import records_to_frame
from genomic_ulmfit.data.leakage import (
    _CODE,
    _pack_windows,
    canonical_kmers,
    leakage_report,
    near_duplicate_pairs,
    sequence_codes,
)
from genomic_ulmfit.data.readers import Record
from genomic_ulmfit.data.sequences import revcomp

RNG = np.random.default_rng(0)


def rand_seq(n, rng=RNG):
    return "".join(rng.choice(list("ACGT"), size=n))


def table(seqs, labels=None, splits=None, species=None):
    n = len(seqs)
    df = records_to_frame(
        Record(f"r{i}", s, (labels or [0] * n)[i], (species or ["x"] * n)[i], "f") for i, s in enumerate(seqs)
    )
    if splits is not None:
        df["split"] = splits
    return df


def naive_kmer(s: str, k: int) -> int:
    v = 0
    for ch in s:
        v = (v << 2) | "ACGT".index(ch)
    return v


@settings(max_examples=60, deadline=None)
@given(seq=st.text(alphabet="ACGTN", min_size=0, max_size=80), k=st.integers(1, 32))
def test_canonical_kmers_match_naive(seq, k):
    codes = _CODE[np.frombuffer(seq.encode(), dtype=np.uint8)] if seq else np.empty(0, np.uint8)
    kmers, pos = canonical_kmers(codes, k)
    expect_pos = [i for i in range(len(seq) - k + 1) if "N" not in seq[i : i + k]]
    assert pos.tolist() == expect_pos
    expect = [min(naive_kmer(seq[i : i + k], k), naive_kmer(revcomp(seq[i : i + k]), k)) for i in expect_pos]
    assert kmers.tolist() == expect


def test_pack_windows_k32_uses_all_64_bits():
    s = "T" * 33
    c = (_CODE[np.frombuffer(s.encode(), np.uint8)] & 3).astype(np.uint64)
    assert _pack_windows(c, 32).tolist() == [2**64 - 1, 2**64 - 1]


def test_sequence_codes_exact_and_canonical():
    a = rand_seq(30)
    exact, can = sequence_codes([a, revcomp(a), a, rand_seq(30)])
    assert exact[0] == exact[2] and exact[0] != exact[1]
    assert can[0] == can[1] == can[2] and can[3] != can[0]


def test_sequence_codes_ignore_case():
    # a soft-masked (lower-case) copy, or its reverse complement, is the same sequence
    a = rand_seq(30)
    exact, can = sequence_codes([a, a.lower(), revcomp(a).lower(), rand_seq(30)])
    assert exact[0] == exact[1] != exact[2]
    assert can[0] == can[1] == can[2] != can[3]


def test_within_counts_cross_split_and_conflicts():
    a, b, c = rand_seq(50), rand_seq(50), rand_seq(50)
    seqs = [a, a, revcomp(b), b, c, rand_seq(50)]
    df = table(seqs, labels=[1, 1, 0, 1, 0, 0], splits=["train", "test", "train", "train", "valid", "test"],
               species=["H", "H", "H", "M", "H", "H"])
    rep = leakage_report(df)
    assert rep.mode == "within" and rep.n_a == 6
    assert rep.duplicate_groups == 2 and rep.duplicate_rows == 4
    assert rep.exact_groups == 1 and rep.exact_extra_rows == 1 and rep.rc_groups == 1
    assert rep.cross_split_groups == 1 and rep.cross_split_rows == 2  # a: train + test
    assert rep.label_conflict_groups == 1 and rep.cross_species_groups == 1
    assert rep.has_leak
    kinds = {e["kind"] for e in rep.examples}
    assert {"across splits", "label conflict"} <= kinds
    assert any(e["ids"] == ["r0", "r1"] for e in rep.examples if e["kind"] == "across splits")
    lines = rep.summary_lines()
    assert any(line.startswith("LEAK: 1 duplicate groups (2 rows) span") for line in lines)
    json.dumps(rep.to_dict())


def test_within_clean_and_unsplit():
    df = table([rand_seq(40) for _ in range(20)], splits=["train"] * 10 + ["test"] * 10)
    rep = leakage_report(df)
    assert rep.duplicate_groups == 0 and not rep.has_leak
    assert rep.summary_lines()[1].startswith("ok: 0 duplicate groups")
    s = rand_seq(40)
    unsplit = leakage_report(table([s, revcomp(s)]))
    assert unsplit.duplicate_groups == 1 and unsplit.has_leak  # unsplit: any duplicate could leak


def test_within_folds():
    s = rand_seq(40)
    df = table([s, s, rand_seq(40)], splits=["train"] * 3)
    df["fold"] = np.array([0, 1, 0], dtype=np.int16)
    rep = leakage_report(df)
    assert rep.cross_split_groups == 0 and rep.cross_fold_groups == 1 and rep.has_leak


def test_between_exact_rc_and_label_conflict():
    train = [rand_seq(60) for _ in range(30)]
    test_rows = [train[0], revcomp(train[1]), train[2], rand_seq(60), rand_seq(60)]
    a = table(train, labels=[1] * 30)
    b = table(test_rows, labels=[1, 1, 0, 0, 0])
    rep = leakage_report(a, b)
    assert rep.mode == "between" and rep.n_b == 5
    assert rep.b_exact_in_a == 2 and rep.b_rc_in_a == 1 and rep.b_label_conflicts == 1
    assert rep.has_leak
    assert rep.summary_lines()[0].startswith("LEAK: 3 of 5 rows of B (60.00%) occur in A")
    assert rep.examples[0]["kind"] == "B identical to A" and rep.examples[0]["ids"] == ["r0", "r0"]
    clean = leakage_report(a, table([rand_seq(60)]))
    assert not clean.has_leak and clean.b_exact_in_a == clean.b_rc_in_a == 0


def test_near_duplicates_found_and_exact_excluded():
    rng = np.random.default_rng(3)
    long = rand_seq(900, rng)
    seqs = [long[:500], revcomp(long[300:800])]  # 200 bp overlap, opposite strands
    seqs += [rand_seq(500, rng) for _ in range(200)]
    seqs += [seqs[5]]  # exact copy: reported as exact, not near
    i, j, shared = near_duplicate_pairs(seqs, k=31)
    pairs = set(zip(i.tolist(), j.tolist(), strict=True))
    assert (0, 1) in pairs and shared[0] >= 4
    df = table(seqs, splits=["train", "test"] + ["train"] * (len(seqs) - 2))
    rep = leakage_report(df, near_k=31)
    assert rep.near_pairs == 1 and rep.near_dangerous_pairs == 1 and rep.duplicate_groups == 1
    assert rep.has_leak
    assert any(e["kind"].startswith("near duplicate") and e["ids"] == ["r0", "r1"] for e in rep.examples)
    far = leakage_report(df, near_k=31, near_min_shared=1000)
    assert far.near_pairs == 0


def test_near_between_and_repeat_cap():
    rng = np.random.default_rng(4)
    a_seqs = [rand_seq(300, rng) for _ in range(50)]
    b_seqs = [a_seqs[7][50:250] + rand_seq(100, rng), rand_seq(300, rng)]
    rep = leakage_report(table(a_seqs), table(b_seqs), near_k=27)
    assert rep.near_b_rows == 1 and rep.near_pairs == 1 and rep.has_leak
    # A segment shared by more sequences than max_occurrences is treated as a repeat and ignored.
    rep_seg = rand_seq(200, rng)
    many = [rand_seq(150, rng) + rep_seg + rand_seq(150, rng) for _ in range(10)]
    assert len(near_duplicate_pairs(many, k=31, max_occurrences=5)[0]) == 0
    assert len(near_duplicate_pairs(many, k=31, max_occurrences=32)[0]) == 45


def test_raw_tables_without_optional_columns():
    rep = leakage_report(pd.DataFrame({"sequence": ["ACGT", "ACGT"]}))
    assert rep.duplicate_groups == 1 and rep.examples[0]["ids"] == ["0", "1"]
