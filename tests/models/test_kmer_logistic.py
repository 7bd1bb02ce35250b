"""k-mer spectrum features and the KmerLogistic baseline (models/kmer.py).

(Named test_kmer_logistic.py: tests/tokenize/test_kmer.py already uses the basename test_kmer.py.)
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from genomic_ulmfit.data.sequences import canonical, revcomp
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.base import MODEL_REGISTRY, load_model
from genomic_ulmfit.models.kmer import (
    KmerLogistic,
    canonical_columns,
    feature_names,
    kmer_counts,
    kmer_features,
    kmer_names,
)
from toy import planted_motif as planted
from toy import repeat_genome_world, sampled_sites_world


def naive_counts(seq: str, k: int) -> Counter:
    """Canonical k-mer counts by brute force, windows with non-ACGT skipped."""
    s = seq.upper()
    return Counter(canonical(s[i : i + k]) for i in range(len(s) - k + 1) if set(s[i : i + k]) <= set("ACGT"))


def test_canonical_columns_sizes_and_symmetry():
    for k, width in ((1, 2), (2, 10), (3, 32), (4, 136)):
        col_of, canon = canonical_columns(k)
        assert canon.size == width and col_of.max() == width - 1
        names = kmer_names(k)
        for i in range(4**k):
            word = "".join("ACGT"[(i >> (2 * (k - 1 - j))) & 3] for j in range(k))
            assert names[col_of[i]] == canonical(word)
    assert feature_names(1, 2) == ["A", "C", "AA", "AC", "AG", "AT", "CA", "CC", "CG", "GA", "GC", "TA"]


def test_hand_counts_acgt():
    counts = kmer_counts(["ACGT"], 2, 2)[0]
    names = kmer_names(2)
    assert dict(zip(names, counts, strict=True)) == {
        **dict.fromkeys(names, 0.0),
        "AC": 2.0,
        "CG": 1.0,
    }  # AC, CG, GT=rc(AC)
    assert kmer_counts(["ACGT"], 1, 1)[0].tolist() == [2.0, 2.0]  # A/T and C/G classes


def test_n_and_lower_case_and_short():
    names = kmer_names(2)
    ac = names.index("AC")
    counts = kmer_counts(["ACNGT", "acgt", "NNNN", "A"], 2, 2)
    assert counts[0].sum() == 2 and counts[0, ac] == 2  # AC and GT only; CN, NG skipped
    assert counts[1].tolist() == kmer_counts(["ACGT"], 2, 2)[0].tolist()
    assert counts[2].sum() == 0 and counts[3].sum() == 0
    feats = kmer_features(["NNNN", "ACGT"], 1, 2)
    assert np.all(feats[0] == 0) and np.all(np.isfinite(feats))


def test_counts_do_not_leak_across_sequences():
    # "AC" + "GT": joining without a separator would create a CG window.
    assert kmer_counts(["AC", "GT"], 2, 2).sum(axis=1).tolist() == [1.0, 1.0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet="ACGTN", min_size=0, max_size=40), min_size=1, max_size=5), st.integers(1, 4)
)
def test_counts_match_naive_and_strand_symmetric(seqs, k):
    counts = kmer_counts(seqs, k, k)
    names = kmer_names(k)
    for row, s in zip(counts, seqs, strict=True):
        expected = naive_counts(s, k)
        assert {n: c for n, c in zip(names, row, strict=True) if c} == {
            n: float(c) for n, c in expected.items()
        }
    rc = kmer_features([revcomp(s) for s in seqs], 1, k)
    np.testing.assert_array_equal(rc, kmer_features(seqs, 1, k))


def test_frequencies_per_k_sum_to_one():
    seqs, _ = planted(4)
    f = kmer_features(seqs, 1, 3, transform="freq")
    assert f.shape == (4, 2 + 10 + 32)
    np.testing.assert_allclose(f[:, :2].sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(f[:, 12:].sum(1), 1, rtol=1e-6)


@pytest.fixture(scope="module")
def fitted() -> tuple[KmerLogistic, list[str], np.ndarray]:
    seqs, y = planted(300, seed=1)
    model = KmerLogistic(k_min=1, k_max=5, Cs=(1e-3, 1e-2, 1e-1)).fit(seqs, y)
    test, yt = planted(200, seed=2)
    return model, test, yt


def test_learns_planted_motif(fitted):
    model, test, yt = fitted
    p = model.predict_proba(test)
    assert p.shape == (200,) and p.dtype == np.float64 and ((p > 0) & (p < 1)).all()
    assert roc_auc_score(yt, p) > 0.9
    top = [name for name, _ in model.top_kmers(10)]
    assert any(canonical(w) in top for w in ("GATAA", "ATAAG", "TAAGG", "AAGGC"))
    assert set(model.cv_scores_) == {"0.001", "0.01", "0.1"} and model.C_ in (1e-3, 1e-2, 1e-1)


def test_strand_and_batch_invariance(fitted):
    model, test, _ = fitted
    p = model.predict_proba(test)
    np.testing.assert_allclose(model.predict_proba([revcomp(s) for s in test]), p, rtol=0, atol=1e-12)
    for bs in (1, 7):
        np.testing.assert_allclose(model.predict_proba(test, batch_size=bs), p, rtol=0, atol=1e-12)


def test_save_load_round_trip(fitted, tmp_path):
    model, test, _ = fitted
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "weights.safetensors"]
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["kind"] == "kmer" and meta["features"]["n_features"] == len(feature_names(1, 5))
    loaded = KmerLogistic.load(tmp_path)
    assert loaded.get_params() == model.get_params() and loaded.C_ == model.C_
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))
    assert MODEL_REGISTRY["kmer"] is KmerLogistic
    via_registry = load_model(tmp_path)
    assert isinstance(via_registry, KmerLogistic)
    np.testing.assert_array_equal(via_registry.predict_proba(test[:5]), model.predict_proba(test[:5]))


def test_validation_set_selects_c(tmp_path):
    seqs, y = planted(120, seed=3)
    val, yv = planted(60, seed=4)
    model = KmerLogistic(k_min=2, k_max=4, Cs=(1e-2, 1e-3)).fit(seqs, y, val, yv, out_dir=tmp_path)
    log = json.loads((tmp_path / "fit_log.json").read_text())
    assert log["selected_on"] == "validation" and set(log["scores_by_C"]) == {"0.001", "0.01"}
    best = max(log["scores_by_C"], key=log["scores_by_C"].get)
    assert model.C_ == float(best)
    assert roc_auc_score(yv, model.predict_proba(val)) == pytest.approx(log["scores_by_C"][best])


def test_errors():
    seqs, y = planted(10)
    with pytest.raises(InputError, match="only label 1"):
        KmerLogistic().fit(seqs, np.ones(10, int))
    with pytest.raises(InputError, match="10 sequences but 5 labels"):
        KmerLogistic().fit(seqs, y[:5])
    with pytest.raises(InputError, match="labels of shape"):
        KmerLogistic().fit(seqs, y.reshape(5, 2))
    with pytest.raises(InputError, match="0 or 1"):
        KmerLogistic().fit(seqs, y * 2)
    with pytest.raises(ConfigError, match="k_min"):
        KmerLogistic(k_min=4, k_max=2).fit(seqs, y)
    with pytest.raises(ConfigError, match="transform"):
        KmerLogistic(transform="tfidf").fit(seqs, y)
    with pytest.raises(InputError, match="not fitted"):
        KmerLogistic().predict_proba(seqs)


def test_load_errors(tmp_path):
    with pytest.raises(InputError, match="no model.json"):
        KmerLogistic.load(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"kind": "cnn"}))
    with pytest.raises(InputError, match="expected 'kmer'"):
        KmerLogistic.load(tmp_path)
    (tmp_path / "model.json").write_text('{"kind": ')
    with pytest.raises(InputError, match=r"model\.json: not valid JSON"):
        KmerLogistic.load(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"kind": "kmer", "params": {"k": 3}}))
    with pytest.raises(InputError, match=r"weights\.safetensors: weights file missing"):
        KmerLogistic.load(tmp_path)
    (tmp_path / "weights.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match="bad params"):
        KmerLogistic.load(tmp_path)


def test_best_C_breaks_float_noise_ties_towards_regularisation():
    from genomic_ulmfit.models.kmer import _best_C

    # mean AUROCs over folds that differ only by float noise are a tie: the smaller C wins
    assert _best_C({3e-5: 0.8400000000000001, 1e-5: 0.84, 1e-4: 0.83}) == 1e-5
    assert _best_C({1e-5: 0.84, 3e-5: 0.85}) == 3e-5


@pytest.fixture(scope="module")
def repeat_world(tmp_path_factory):
    return repeat_genome_world(tmp_path_factory.mktemp("repeat_world"))


def test_copies_features_see_repeats_the_spectrum_cannot(repeat_world, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    genome, (seqs, y), (test, yt) = repeat_world
    plain = KmerLogistic(k_min=1, k_max=4).fit(seqs, y)
    model = KmerLogistic(k_min=1, k_max=4, copies_genome=(str(genome),)).fit(seqs, y)
    assert roc_auc_score(yt, plain.predict_proba(test)) < 0.7
    assert roc_auc_score(yt, model.predict_proba(test)) > 0.95
    assert model.features(test).shape[1] == len(feature_names(1, 4)) + 8
    top = dict(model.top_kmers(3))
    assert any(name.startswith("copies:") and w < 0 for name, w in top.items())  # repeats mean "not enhancer"
    # saved and loaded: same scores, the genome recorded by its sha256
    model.save(tmp_path / "run")
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    assert len(meta["features"]["copies"]["genome_digest"]) == 64
    assert meta["params"]["copies_genome"] == [str(genome)]
    loaded = load_model(tmp_path / "run")
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))
    np.testing.assert_allclose(loaded.predict_proba([revcomp(s) for s in test]), model.predict_proba(test),
                               rtol=0, atol=1e-12)


def test_copies_model_refuses_another_genome_and_bad_settings(repeat_world, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    source, (seqs, y), (test, _) = repeat_world
    genome = tmp_path / "genome.fa"
    genome.write_text(source.read_text())
    KmerLogistic(k_min=1, k_max=3, copies_genome=(str(genome),)).fit(seqs, y).save(tmp_path / "run")
    genome.write_text(source.read_text().replace("A", "C", 50))  # the same file name, changed contents
    with pytest.raises(InputError, match="not the ones this model was trained with"):
        load_model(tmp_path / "run").predict_proba(test)
    genome.unlink()  # gone: said when the model loads, naming the run
    with pytest.raises(InputError, match=r"run: this kmer:copies model reads k-mer copy numbers from .*genome\.fa"):
        load_model(tmp_path / "run")
    for bad in ({"copies_k": 40}, {"copies_weight": 0}, {"copies_weight": "10"}):
        with pytest.raises(ConfigError, match="copies"):
            KmerLogistic(copies_genome=(str(genome),), **bad).fit(seqs, y)


def test_motif_columns_find_sites_the_short_kmers_blur(tmp_path):
    seqs, y = sampled_sites_world(400, seed=0)
    test, yt = sampled_sites_world(300, seed=1)
    plain = KmerLogistic(k_min=1, k_max=3).fit(seqs, y)
    with_motifs = KmerLogistic(k_min=1, k_max=3, motifs="liver", motifs_weight=1.0).fit(seqs, y)
    assert with_motifs.top_kmers(1)[0][0] == "motif:HNF4A"
    auc, auc_plain = (roc_auc_score(yt, m.predict_proba(test)) for m in (with_motifs, plain))
    assert auc > 0.9 and auc > auc_plain + 0.1
    np.testing.assert_allclose(with_motifs.predict_proba([revcomp(s) for s in test]),
                               with_motifs.predict_proba(test), atol=1e-6)  # float32 sums in another order
    # saved with its matrices: loading reads neither the motif source nor pyjaspar
    with_motifs.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["features"]["motifs"]["names"][:2] == ["HNF4A", "CEBPA"]
    loaded = load_model(tmp_path)
    assert loaded.get_params() == with_motifs.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(test), with_motifs.predict_proba(test))


def test_motif_model_refuses_bad_settings_and_a_model_without_its_matrices(tmp_path):
    from safetensors.numpy import load_file, save_file

    seqs, y = sampled_sites_world(60, seed=2)
    with pytest.raises(ConfigError, match="motifs_weight must be a positive number"):
        KmerLogistic(motifs="liver", motifs_weight=0).fit(seqs, y)
    with pytest.raises(InputError, match="motif file not found"):
        KmerLogistic(motifs=str(tmp_path / "none.jaspar")).fit(seqs, y)
    KmerLogistic(k_min=1, k_max=2, motifs="liver").fit(seqs, y).save(tmp_path)
    arrays = load_file(str(tmp_path / "weights.safetensors"))
    del arrays["motif_pwm"]
    save_file(arrays, str(tmp_path / "weights.safetensors"))
    with pytest.raises(InputError, match="without its motif matrices"):
        KmerLogistic.load(tmp_path)
