"""Motif interpretation: JASPAR parsing, hit counting on mixed lengths, GC-adjusted odds ratios."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomic_ulmfit.data.motifs import MOTIFS, count_hits, dna_codes
from genomic_ulmfit.errors import InputError
from genomic_ulmfit.evaluation.motifs import hit_counts, mantel_haenszel_or, motif_table, read_jaspar


def jaspar_text(motifs) -> str:
    return "".join(f">{m.jaspar_id}\t{m.name}\n" + "".join(
        f"{b}  [ {' '.join(f'{c:g}' for c in row)} ]\n" for b, row in zip("ACGT", m.counts)) for m in motifs)


def test_read_jaspar_round_trips_the_shipped_motifs(tmp_path):
    path = tmp_path / "liver.jaspar"
    path.write_text(jaspar_text(MOTIFS.values()))
    back = read_jaspar(path)
    assert list(back) == list(MOTIFS)
    assert all(back[n].counts == MOTIFS[n].counts and back[n].jaspar_id == MOTIFS[n].jaspar_id for n in MOTIFS)
    (tmp_path / "bare.pfm").write_text(">X1 X\n1 2\n3 4\n5 6\n7 0\n")  # the .pfm flavour: bare rows
    assert read_jaspar(tmp_path / "bare.pfm")["X"].counts == ((1, 2), (3, 4), (5, 6), (7, 0))


@pytest.mark.parametrize("text, match", [
    (">M1 a\nA [1 2]\nC [1 2]\nG [1]\nT [1 2]\n", "line 1: motif 'a' needs four rows"),
    (">M1 a\nA [1 2]\nG [1 2]\n", "line 3: row 'G' out of order"),
    (">M1 a\nA [1 x]\n", r"line 2: 'A \[1 x\]' is not a row of counts"),
    ("A [1 2]\n", "line 1: counts before any"),
    (">M1 a\nA [1 -2]\nC [1 2]\nG [1 2]\nT [1 2]\n", "line 2: counts must be >= 0"),
    ("\n\n", "no motifs found"),
])
def test_read_jaspar_bad_input_names_the_line(tmp_path, text, match):
    (tmp_path / "m.jaspar").write_text(text)
    with pytest.raises(InputError, match=match):
        read_jaspar(tmp_path / "m.jaspar")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(alphabet="ACGTN", min_size=0, max_size=60), min_size=1, max_size=12))
def test_hit_counts_on_mixed_lengths_equal_each_sequence_alone(seqs):
    motif = MOTIFS["HNF4A"]
    got = hit_counts(seqs, motif, threshold=0.7, chunk=5)
    alone = [int(count_hits(dna_codes([s]), motif, threshold=0.7)[0]) if s else 0 for s in seqs]
    assert got.tolist() == alone


def test_mantel_haenszel_reduces_to_the_odds_ratio_in_one_stratum_and_removes_confounding():
    has = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0], bool)
    out = np.array([1, 1, 0, 1, 0, 0, 0, 0, 1, 0], bool)
    a, b, c, d = 2, 2, 2, 4
    assert mantel_haenszel_or(has, out, np.zeros(10)) == pytest.approx(a * d / (b * c))
    # Within each stratum hit and outcome are independent (OR 1); pooled they are not (the stratum drives both).

    def cells(a, b, c, d):  # rows with (has, outcome) = (1,1) a times, (0,1) b, (1,0) c, (0,0) d
        return [(1, 1)] * a + [(0, 1)] * b + [(1, 0)] * c + [(0, 0)] * d

    rows = np.array(cells(1, 3, 3, 9) + cells(9, 3, 3, 1), bool)
    strata = np.repeat([0, 1], 16)
    assert mantel_haenszel_or(rows[:, 0], rows[:, 1], np.zeros(32)) == pytest.approx(10 * 10 / (6 * 6))
    assert mantel_haenszel_or(rows[:, 0], rows[:, 1], strata) == pytest.approx(1.0)


def test_motif_table_finds_a_planted_motif_beyond_gc_and_a_model_that_follows_it():
    rng = np.random.default_rng(0)
    site = "TGGACTTTGGAC"  # the HNF4A DR1 consensus
    neg = ["".join(rng.choice(list("ACGT"), 200)) for _ in range(300)]
    pos = []
    for i in range(300):
        s = "".join(rng.choice(list("ACGT"), 200))
        pos.append(s[:90] + site + s[102:] if i % 2 else s)  # half the positives carry a site
    seqs, y = neg + pos, np.r_[np.zeros(300), np.ones(300)].astype(int)
    follows = np.array([site in s for s in seqs], float) + rng.normal(0, 0.1, len(seqs))
    table = motif_table(seqs, y, follows).set_index("motif")
    hnf4a = table.loc["HNF4A"]
    assert hnf4a["positives_with_hit"] > 0.5 > hnf4a["negatives_with_hit"]
    assert hnf4a["gc_adjusted_or"] > 5 and hnf4a["fisher_p"] < 1e-10 and hnf4a["score_gc_adjusted_or"] > 5
    assert 0.5 < table.loc["TEAD1", "gc_adjusted_or"] < 2  # nothing planted: no association
    with pytest.raises(InputError, match="599 scores for 600 sequences"):
        motif_table(seqs, y, follows[:-1])
