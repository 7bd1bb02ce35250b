"""Motif collections and per-sequence best motif scores (the ``kmer:motifs`` features)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomic_ulmfit.data.motifs import (
    FEATURE_BACKGROUND,
    MOTIFS,
    dna_codes,
    jaspar_collection,
    load_motifs,
    max_motif_scores,
    pwm_stack,
    scan_scores,
)
from genomic_ulmfit.data.sequences import revcomp
from genomic_ulmfit.errors import InputError

LIVER = list(MOTIFS.values())
PWM, WIDTHS = pwm_stack(LIVER)


def brute_force(seq: str) -> np.ndarray:
    """Best score of each liver motif over the windows of one sequence (scan_scores, N → 0)."""
    out = []
    for motif in LIVER:
        if len(seq) < motif.length:
            lo = motif.log_odds(FEATURE_BACKGROUND)
            out.append(np.minimum(lo.min(axis=1), 0).sum())
            continue
        lo = motif.log_odds(FEATURE_BACKGROUND)
        codes = dna_codes([seq])[0]
        best = -np.inf
        for start in range(len(seq) - motif.length + 1):
            window = codes[start : start + motif.length]
            fwd = sum(lo[j, c] for j, c in enumerate(window) if c < 4)
            rev = sum(lo[motif.length - 1 - j, 3 - c] for j, c in enumerate(window) if c < 4)
            best = max(best, fwd, rev)
        out.append(best)
    return np.array(out)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(alphabet="ACGTNacgt", min_size=0, max_size=60), min_size=1, max_size=6))
def test_best_scores_match_a_window_by_window_scan_for_any_lengths(seqs):
    got = max_motif_scores(seqs, PWM, WIDTHS, max_cells=2000)  # tiny batches: batching must not matter
    want = np.stack([brute_force(s) for s in seqs])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_a_sequence_scores_as_its_reverse_complement_and_a_planted_site_scores_high():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 300)) for _ in range(20)]
    seqs[0] = seqs[0][:100] + "TGGACTTTGGACT" + seqs[0][113:]  # an HNF4A DR1 site
    got = max_motif_scores(seqs, PWM, WIDTHS)
    np.testing.assert_allclose(got, max_motif_scores([revcomp(s) for s in seqs], PWM, WIDTHS), atol=1e-4)
    hnf4a = list(MOTIFS).index("HNF4A")
    assert got[0, hnf4a] > got[1:, hnf4a].max()
    ref = scan_scores(dna_codes(seqs), MOTIFS["HNF4A"], background=FEATURE_BACKGROUND).max(axis=1)
    np.testing.assert_allclose(got[:, hnf4a], ref, atol=1e-4)


def test_load_motifs_reads_the_liver_set_and_jaspar_files(tmp_path):
    assert list(load_motifs("liver")) == list(MOTIFS)
    (tmp_path / "m.jaspar").write_text(">MA9.1 X\nA [ 1 2 ]\nC [ 3 4 ]\nG [ 5 6 ]\nT [ 7 0 ]\n")
    assert load_motifs(tmp_path / "m.jaspar")["X"].counts == ((1, 2), (3, 4), (5, 6), (7, 0))
    with pytest.raises(InputError, match="motif file not found"):
        load_motifs(tmp_path / "missing.jaspar")


def test_jaspar_collection_is_read_from_the_bundled_database():
    pytest.importorskip("pyjaspar")
    found = load_motifs("jaspar")
    assert len(found) == 879  # JASPAR 2024 CORE vertebrates, newest version of each profile
    hnf4a = found["HNF4A/MA0114.5"]
    assert hnf4a.consensus.upper().find("CAAAG") >= 0  # the DR1 half site
    assert all(min(map(sum, zip(*m.counts))) > 0 for m in found.values())
    assert len(jaspar_collection("2022")) != len(found)
    with pytest.raises(InputError, match="not a release"):
        jaspar_collection("1999")


def test_cached_scores_equal_fresh_ones_and_large_calls_skip_the_cache(monkeypatch):
    from genomic_ulmfit.data import motifs

    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in (40, 80, 80, 5)]
    monkeypatch.setattr(motifs, "_SCORES", {})
    fresh = max_motif_scores(seqs, PWM, WIDTHS)
    np.testing.assert_array_equal(motifs.cached_motif_scores(seqs[:2], PWM, WIDTHS), fresh[:2])
    assert len(next(iter(motifs._SCORES.values()))) == 2
    again = motifs.cached_motif_scores(seqs + seqs[:1], PWM, WIDTHS)  # two new rows scanned, repeats served
    np.testing.assert_array_equal(again, np.vstack([fresh, fresh[:1]]))
    assert len(next(iter(motifs._SCORES.values()))) == 4
    assert motifs.cached_motif_scores([], PWM, WIDTHS).shape == (0, len(LIVER))
    monkeypatch.setattr(motifs, "_CACHE_CELLS", len(LIVER))  # room for one row: a call of two bypasses it
    monkeypatch.setattr(motifs, "_SCORES", {})
    np.testing.assert_array_equal(motifs.cached_motif_scores(seqs[:2], PWM, WIDTHS), fresh[:2])
    assert all(not rows for rows in motifs._SCORES.values())  # nothing kept


def test_without_pyjaspar_the_collection_asks_for_it_in_one_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyjaspar" else real(name, *a))
    with pytest.raises(InputError, match="need the pyjaspar package"):
        load_motifs("jaspar2022")
    assert len(load_motifs("liver")) == len(MOTIFS)  # the built-in set needs nothing
