"""Motif interpretation: JASPAR parsing, hit counting on mixed lengths, GC-adjusted odds ratios."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomic_ulmfit.data.motifs import MOTIFS
from genomic_ulmfit.errors import InputError
from genomic_ulmfit.evaluation.motifs import (
    hit_counts,
    mantel_haenszel,
    motif_table,
    read_jaspar,
    top_features,
)


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
    import gzip

    hnf4a = MOTIFS["HNF4A"]
    older = type(hnf4a)("HNF4A", "MA0114.3", hnf4a.counts)
    (tmp_path / "two.jaspar.gz").write_bytes(gzip.compress(jaspar_text([older, hnf4a]).encode()))
    assert list(read_jaspar(tmp_path / "two.jaspar.gz")) == ["HNF4A/MA0114.3", "HNF4A/MA0114.4"]  # both kept


@pytest.mark.parametrize("text, match", [
    (">M1 a\nA [1 2]\nC [1 2]\nG [1]\nT [1 2]\n", "line 4: 1 counts, the motif's A row has 2"),
    (">M1 a\nA [1 2]\nC [1 2]\nG [1 2]\n", "line 1: motif 'a' needs four rows"),
    (">M1 a\nA [1 0]\nC [1 0]\nG [1 0]\nT [1 0]\n", "column without counts"),
    (">M1 a\nA [1 nan]\nC [1 2]\nG [1 2]\nT [1 2]\n", "line 2: counts must be finite"),
    (">M1 a\nA [1 2]\nG [1 2]\n", "line 3: row 'G' out of order"),
    (">M1 a\nA [1 x]\n", r"line 2: 'A \[1 x\]' is not a row of counts"),
    ("A [1 2]\n", "line 1: counts before any"),
    (">M1 a\nA [1 -2]\nC [1 2]\nG [1 2]\nT [1 2]\n", "line 2: counts must be finite and >= 0"),
    ("\n\n", "no motifs found"),
])
def test_read_jaspar_bad_input_names_the_line(tmp_path, text, match):
    (tmp_path / "m.jaspar").write_text(text)
    with pytest.raises(InputError, match=match):
        read_jaspar(tmp_path / "m.jaspar")


def brute_force_hits(seq: str, motif, threshold: float) -> int:
    """Hits by scoring every offset inside ``seq`` on both strands, one window at a time."""
    from genomic_ulmfit.data.sequences import revcomp

    lo = motif.log_odds()
    cut = lo.min(axis=1).sum() + threshold * (lo.max(axis=1).sum() - lo.min(axis=1).sum()) - 1e-9
    col = {b: i for i, b in enumerate("ACGT")}

    def score(w):
        return sum(lo[j, col[b]] if b in col else lo[j].min() for j, b in enumerate(w))

    m = motif.length
    return sum(max(score(seq[i : i + m]), score(revcomp(seq[i : i + m]))) >= cut for i in range(len(seq) - m + 1))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="ACGTN", min_size=0, max_size=40), min_size=1, max_size=10),
       st.sampled_from(["HNF4A", "FOXA2", "ONECUT1"]), st.sampled_from([0.6, 0.75, 0.85]))
def test_hit_counts_on_mixed_lengths_equal_a_brute_force_scan_of_each_sequence(seqs, name, threshold):
    got = hit_counts(seqs, MOTIFS[name], threshold=threshold, chunk=4)
    assert got.tolist() == [brute_force_hits(s, MOTIFS[name], threshold) for s in seqs]


def test_a_site_cut_short_by_the_sequence_end_is_no_hit_whatever_its_neighbours():
    s = "GCGCGCGCGC" + "TCCAAAGTCCAA"  # the HNF4A consensus without its last base
    assert hit_counts([s], MOTIFS["HNF4A"]).tolist() == hit_counts([s, "GCGC" * 20], MOTIFS["HNF4A"])[:1].tolist()
    best = "".join("ACGT"[i] for i in MOTIFS["FOXA2"].probs().argmax(axis=1))
    assert hit_counts([best], MOTIFS["FOXA2"], threshold=1.0).tolist() == [1]  # the best site at threshold 1


def test_mantel_haenszel_reduces_to_the_odds_ratio_in_one_stratum_and_removes_confounding():
    # values checked against statsmodels' StratifiedTable (odds ratio, Robins-Breslow-Greenland CI, CMH p)
    has = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0], bool)
    out = np.array([1, 1, 0, 1, 0, 0, 0, 0, 1, 0], bool)
    a, b, c, d = 2, 2, 2, 4
    assert mantel_haenszel(has, out, np.zeros(10))["or"] == pytest.approx(a * d / (b * c))
    # Within each stratum hit and outcome are independent (OR 1); pooled they are not (the stratum drives both).

    def cells(a, b, c, d):  # rows with (has, outcome) = (1,1) a times, (0,1) b, (1,0) c, (0,0) d
        return [(1, 1)] * a + [(0, 1)] * b + [(1, 0)] * c + [(0, 0)] * d

    rows = np.array(cells(1, 3, 3, 9) + cells(9, 3, 3, 1), bool)
    strata = np.repeat([0, 1], 16)
    assert mantel_haenszel(rows[:, 0], rows[:, 1], np.zeros(32))["or"] == pytest.approx(10 * 10 / (6 * 6))
    assert mantel_haenszel(rows[:, 0], rows[:, 1], strata)["or"] == pytest.approx(1.0)
    mh = mantel_haenszel(rows[:, 0], rows[:, 1], strata)
    assert mh["lo"] < 1 < mh["hi"] and mh["p"] == pytest.approx(1.0)
    only = mantel_haenszel(np.array([1, 1, 0, 0], bool), np.array([1, 1, 0, 0], bool), np.zeros(4))
    assert only["or"] == float("inf") and np.isnan(only["lo"])
    never = mantel_haenszel(np.ones(4, bool), np.array([1, 1, 0, 0], bool), np.zeros(4))  # everyone has it
    assert np.isnan(never["or"]) and np.isnan(never["p"])


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
    assert hnf4a["gc_adjusted_or"] > 5 and hnf4a["fisher_p"] < 1e-10 and hnf4a["gc_adjusted_p"] < 1e-10
    assert hnf4a["gc_adjusted_lo"] > 1 and hnf4a["score_or"] > 5 and hnf4a["score_p"] < 1e-10
    assert 0.5 < table.loc["TEAD1", "gc_adjusted_or"] < 2  # nothing planted: no association
    # A perfect model that never looked at the motif (scores = label + noise) does not "follow" it.
    oracle = motif_table(seqs, y, y + rng.normal(0, 0.01, len(y))).set_index("motif")
    assert 0.5 < oracle.loc["HNF4A", "score_or"] < 2 and oracle.loc["HNF4A", "score_p"] > 0.01
    with pytest.raises(InputError, match="599 scores for 600 sequences"):
        motif_table(seqs, y, follows[:-1])


def test_top_features_lists_a_planted_kmer_first_and_refuses_models_without_feature_weights():
    from genomic_ulmfit.models.gkm import GkmSVM
    from genomic_ulmfit.models.kmer import KmerLogistic

    rng = np.random.default_rng(1)
    neg = ["".join(rng.choice(list("ACGT"), 120)) for _ in range(80)]
    pos = ["".join(rng.choice(list("ACGT"), 120)) for _ in range(80)]
    pos = [s[:40] + "GATTACA" + s[47:] for s in pos]
    seqs, y = neg + pos, np.r_[np.zeros(80), np.ones(80)].astype(int)
    kmer = top_features(KmerLogistic(k_min=3, k_max=4, Cs=(1.0,)).fit(seqs, y), 5)
    assert list(kmer["rank"]) == [1, 2, 3, 4, 5] and kmer["weight"].abs().is_monotonic_decreasing
    assert kmer["feature"].iloc[0] in {"GATT", "ATTA", "TTAC", "TACA"} | {"AATC", "TAAT", "GTAA", "TGTA"}
    gkm = top_features(GkmSVM(l=5, k=4, gammas=(0.0,), Cs=(1.0,)).fit(seqs, y, progress=False), 3)
    assert len(gkm) == 3 and gkm["weight"].iloc[0] > 0
    top = gkm["feature"].iloc[0].replace(".", "N")
    assert any(all(c in "N" + b for c, b in zip(t, w)) for t in (top, top[::-1].translate(str.maketrans("ACGT", "TGCA")))
               for w in ("GATTACA"[i:i + len(top)] for i in range(8 - len(top))))  # part of the planted site
    with pytest.raises(InputError, match="RBF kernel.*gkm:linear"):
        top_features(GkmSVM(l=5, k=4, gammas=(4.0,), Cs=(1.0,)).fit(seqs, y, progress=False))
    with pytest.raises(InputError, match="no weight per k-mer"):
        top_features(object())


def test_motif_table_does_not_depend_on_which_strand_the_sequences_are_given_on():
    # hits are counted on both strands, so the background must be strand-free too (A/T-rich negatives)
    from genomic_ulmfit.data.sequences import revcomp

    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), 150, p=[0.4, 0.1, 0.2, 0.3])) for _ in range(200)]
    y = np.r_[np.zeros(100), np.ones(100)].astype(int)
    fwd = motif_table(seqs, y).set_index("motif")
    rev = motif_table([revcomp(s) for s in seqs], y).set_index("motif")
    cols = ["positives_with_hit", "negatives_with_hit", "odds_ratio"]
    np.testing.assert_allclose(fwd[cols].to_numpy(float), rev.loc[fwd.index, cols].to_numpy(float), rtol=1e-12)
