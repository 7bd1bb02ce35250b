"""The native gapped k-mer kernel and its SVM (models/gkm.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sklearn.svm import SVC

from genomic_ulmfit.data.sequences import revcomp
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.models.base import load_model
from genomic_ulmfit.models.gkm import (
    GkmSVM,
    gkm_kernel,
    gkm_shapes,
    normalise,
    rbf,
    shape_names,
    shape_weights,
)
from toy import PLANTED_MOTIF, planted_motif, repeat_genome_world, sampled_sites_world


def brute_kernel(a: str, b: str, l: int, k: int, half_life: float | None = None) -> float:  # noqa: E741
    """K(a, b) from the definition: every pair of equal gapped k-mer occurrences (both strands, spans
    without N), weighted l - span + 1 and by the centre weights of both occurrences."""

    def occurrences(seq: str) -> dict:
        out: dict = {}
        for strand in (seq, revcomp(seq)):
            for shape in gkm_shapes(l, k):
                span = shape[-1] + 1
                for p in range(len(strand) - span + 1):
                    if "N" in strand[p : p + span].upper():
                        continue
                    key = (shape, "".join(strand[p + o].upper() for o in shape))
                    d = abs(p + (span - 1) / 2 - (len(seq) - 1) / 2)
                    out[key] = out.get(key, 0.0) + (2 ** (-d / half_life) if half_life else 1.0)
        return out

    oa, ob = occurrences(a), occurrences(b)
    return sum((l - key[0][-1]) * v * ob.get(key, 0.0) for key, v in oa.items())


def test_shapes_count_weights_and_names():
    assert gkm_shapes(4, 2) == [(0, 1), (0, 2), (0, 3)]
    assert shape_weights(4, 2).tolist() == [3.0, 2.0, 1.0]  # l-long windows holding each span
    assert shape_names(4, 2) == ["NN", "N.N", "N..N"]
    for l, k in ((8, 5), (10, 6), (11, 7)):  # noqa: E741
        assert len(gkm_shapes(l, k)) == math.comb(l - 1, k - 1)


dna = st.text(alphabet="ACGTNacgtn", min_size=0, max_size=22)


@settings(max_examples=40, deadline=None)
@given(a=st.lists(dna, min_size=1, max_size=3), b=st.lists(dna, min_size=1, max_size=3),
       half_life=st.sampled_from([None, 3.0]))
def test_kernel_equals_the_definition(a, b, half_life):
    K, na, nb = gkm_kernel(a, b, l=4, k=2, half_life=half_life, device="cpu")
    want = np.array([[brute_kernel(x, y, 4, 2, half_life) for y in b] for x in a])
    np.testing.assert_allclose(K, want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(na, [brute_kernel(x, x, 4, 2, half_life) for x in a], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(nb, [brute_kernel(y, y, 4, 2, half_life) for y in b], rtol=1e-5, atol=1e-4)


def test_kernel_edge_shapes_and_empty_input():
    seqs = ["ACGTACGTAA", "TTGCA", "acgtNacgt"]
    for l, k in ((3, 1), (4, 4)):  # noqa: E741 - single bases; ungapped 4-mers only
        K, _, _ = gkm_kernel(seqs, l=l, k=k)
        np.testing.assert_allclose(K, [[brute_kernel(x, y, l, k) for y in seqs] for x in seqs], rtol=1e-6)
    K, na, nb = gkm_kernel([], seqs, l=4, k=2)
    assert K.shape == (0, 3) and na.shape == (0,) and nb.shape == (3,)


def test_kernel_is_strand_symmetric_and_self_kernel_matches():
    seqs, _ = planted_motif(6, length=40, seed=3)
    K, n, _ = gkm_kernel(seqs, l=6, k=3, half_life=10.0)
    K_rc, _, _ = gkm_kernel([revcomp(s) for s in seqs], seqs, l=6, k=3, half_life=10.0)
    np.testing.assert_allclose(K, K_rc, rtol=1e-6)
    np.testing.assert_allclose(np.diag(K), n, rtol=1e-6)
    np.testing.assert_allclose(K, K.T)


def test_normalise_and_rbf():
    K = np.array([[4.0, 2.0, 0.0], [2.0, 9.0, 0.0], [0.0, 0.0, 0.0]])
    n = np.diag(K).copy()
    Kn = normalise(K, n, n)
    np.testing.assert_allclose(np.diag(Kn), [1.0, 1.0, 0.0])  # a zero-norm sequence is the zero vector
    assert Kn[0, 1] == pytest.approx(2.0 / 6.0)
    assert rbf(Kn, 0.0) is Kn
    np.testing.assert_allclose(rbf(Kn, 2.0)[0, 1], np.exp(-2.0 * (2 - 2 * 2.0 / 6.0)))


@pytest.fixture(scope="module")
def planted():
    seqs, y = planted_motif(240, length=80, seed=0)
    return seqs[:160], y[:160], seqs[160:], y[160:]


@pytest.mark.parametrize("gammas", [(0.0,), (1.0,)])
def test_fit_separates_planted_motif_and_round_trips(planted, tmp_path, gammas):
    xtr, ytr, xte, yte = planted
    model = GkmSVM(l=6, k=4, gammas=gammas, Cs=(1.0,)).fit(xtr, ytr, progress=False)
    p = model.predict_proba(xte)
    assert roc_auc_score(yte, p) > 0.9
    model.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert isinstance(again, GkmSVM) and again.gamma_ == gammas[0]
    np.testing.assert_allclose(again.decision_function(xte), model.decision_function(xte), rtol=1e-6, atol=1e-8)
    # batch-size invariance
    np.testing.assert_allclose(model.decision_function(xte, batch_size=7), model.decision_function(xte), rtol=1e-6,
                               atol=1e-8)


def test_linear_weights_reproduce_the_kernel_svm(planted):
    """The saved gapped k-mer weights give the same decision values as the SVM on the kernel."""
    xtr, ytr, xte, _ = planted
    model = GkmSVM(l=6, k=4, half_life=20.0, gammas=(0.0,), Cs=(0.5,)).fit(xtr, ytr, progress=False)
    K, ntr, _ = gkm_kernel(xtr, l=6, k=4, half_life=20.0)
    svc = SVC(kernel="precomputed", C=0.5).fit(normalise(K, ntr, ntr), ytr)
    Kte, nte, _ = gkm_kernel(xte, xtr, l=6, k=4, half_life=20.0)
    want = svc.decision_function(normalise(Kte, nte, ntr))
    np.testing.assert_allclose(model.decision_function(xte), want, rtol=1e-4, atol=1e-5)


def test_selection_by_internal_cv_calibration_and_top_gapped_kmers(planted, tmp_path):
    xtr, ytr, xte, yte = planted
    model = GkmSVM(l=6, k=4, Cs=(0.5, 2.0), gammas=(0.0, 1.0)).fit(xtr, ytr, xte, yte, out_dir=tmp_path,
                                                                  progress=False)
    assert set(model.scores_) == {"0.5,0", "2,0", "0.5,1", "2,1"}
    assert model.scores_[f"{model.C_:g},{model.gamma_:g}"] == max(model.scores_.values())
    log = json.loads((tmp_path / "fit_log.json").read_text())
    assert log["selected_on"] == "3-fold CV" and log["platt_source"] == "validation"
    # the same setting without the validation set: the same SVM, calibrated out-of-fold instead
    alone = GkmSVM(l=6, k=4, Cs=(0.5, 2.0), gammas=(0.0, 1.0)).fit(xtr, ytr, progress=False)
    assert (alone.C_, alone.gamma_) == (model.C_, model.gamma_) and alone.platt_ != model.platt_
    np.testing.assert_allclose(alone.decision_function(xte), model.decision_function(xte))
    assert model.platt_[0] > 0  # higher decision values mean enhancer
    linear = GkmSVM(l=6, k=4, Cs=(1.0,), gammas=(0.0,)).fit(xtr, ytr, progress=False)
    top = [p for p, w in linear.top_gapped_kmers(5) if w > 0]
    # the strongest positive gapped 4-mers lie in the planted motif (or its reverse complement)
    assert top and all(any(_fits(p, m) for m in (PLANTED_MOTIF, revcomp(PLANTED_MOTIF))) for p in top[:3])
    rbf_model = GkmSVM(l=6, k=4, Cs=(1.0,), gammas=(1.0,)).fit(xtr, ytr, progress=False)
    with pytest.raises(InputError, match="linear kernel"):
        rbf_model.top_gapped_kmers()


def _fits(pattern: str, motif: str) -> bool:
    """Whether the gapped pattern (``.`` gaps) occurs in ``motif``."""
    return any(all(c in (".", motif[i + j]) for j, c in enumerate(pattern))
               for i in range(len(motif) - len(pattern) + 1))


def test_bad_params_and_input():
    seqs, y = planted_motif(20, length=30)
    for bad in ({"l": 4, "k": 5}, {"k": 9, "l": 12}, {"half_life": 0}, {"Cs": ()}, {"gammas": (-1,)}, {"cv": 1}):
        with pytest.raises(ConfigError, match="gkm:"):
            GkmSVM(**bad).fit(seqs, y, progress=False)
    with pytest.raises(InputError, match="at least 8"):
        GkmSVM().fit([*seqs[:-1], "ACGT"], y, progress=False)
    with pytest.raises(InputError, match="not fitted"):
        GkmSVM().predict_proba(seqs)


def test_rbf_model_equals_svc_on_the_kernel_and_round_trips_mixed_input(tmp_path):
    """Variable lengths, N and lower case: the RBF model scores as an SVC on the same kernel, saved and loaded."""
    seqs, y = planted_motif(120, length=70, seed=5)
    rng = np.random.default_rng(0)
    seqs = [s[: int(rng.integers(40, 71))] for s in seqs]  # mixed lengths
    seqs = [s.lower() if i % 5 == 0 else s[:10] + "NN" + s[12:] if i % 7 == 0 else s for i, s in enumerate(seqs)]
    xtr, ytr, xte = seqs[:80], y[:80], seqs[80:]
    model = GkmSVM(l=6, k=4, Cs=(2.0,), gammas=(1.5,)).fit(xtr, ytr, progress=False)
    K, ntr, _ = gkm_kernel(xtr, l=6, k=4)
    svc = SVC(kernel="precomputed", C=2.0).fit(rbf(normalise(K, ntr, ntr), 1.5), ytr)
    Kte, nte, _ = gkm_kernel(xte, xtr, l=6, k=4)
    want = svc.decision_function(rbf(normalise(Kte, nte, ntr), 1.5))
    np.testing.assert_allclose(model.decision_function(xte), want, rtol=1e-6, atol=1e-8)
    model.save(tmp_path / "rbf")
    again = load_model(tmp_path / "rbf")
    assert again.support_ == model.support_
    np.testing.assert_allclose(again.decision_function(xte), want, rtol=1e-6, atol=1e-8)
    assert model.platt_source_ == "out-of-fold" and again.platt_source_ == "out-of-fold"


def test_calibration_source_is_recorded(planted):
    xtr, ytr, xte, yte = planted
    one_class = [s for s, v in zip(xte, yte) if v == 1]
    model = GkmSVM(l=6, k=4, Cs=(1.0,), gammas=(0.0,)).fit(xtr, ytr, one_class, [1] * len(one_class), progress=False)
    assert model.platt_source_ == "out-of-fold" and model.platt_[0] > 0  # one class cannot calibrate
    tiny = GkmSVM(l=6, k=4).fit(xtr[:3], [1, 0, 1], progress=False)  # one negative: no CV
    assert tiny.platt_source_ == "none" and tiny.platt_ == (1.0, 0.0) and (tiny.C_, tiny.gamma_) == (0.25, 0.0)


def test_top_gapped_kmers_of_none_and_corrupt_saves(planted, tmp_path):
    xtr, ytr, _, _ = planted
    model = GkmSVM(l=6, k=4, Cs=(1.0,), gammas=(0.0,)).fit(xtr, ytr, progress=False)
    assert model.top_gapped_kmers(0) == []
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    del meta["bias"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="lack bias"):
        load_model(tmp_path / "m")


def test_rbf_scoring_counts_the_support_sequences_once_when_they_fit(planted, monkeypatch):
    import genomic_ulmfit.models.gkm as gkm

    xtr, ytr, xte, _ = planted
    model = GkmSVM(l=6, k=4, gammas=(1.0,), Cs=(1.0,)).fit(xtr, ytr, progress=False)
    counted, real = [], gkm._Encoded._count
    monkeypatch.setattr(gkm._Encoded, "_count", lambda self, *a: counted.append(self.n) or real(self, *a))
    n_shapes = len(gkm_shapes(6, 4))
    kept = model.decision_function(xte, batch_size=20)  # 80 sequences: 4 batches
    assert counted.count(model.n_support_) == n_shapes and counted.count(20) == 4 * n_shapes
    model.decision_function(xte[:5])  # a later call reuses them too
    assert counted.count(model.n_support_) == n_shapes
    counted.clear()
    monkeypatch.setattr(gkm, "KEEP_BYTES", 0)  # too large to keep: counted per batch, same scores
    fresh = GkmSVM.__new__(GkmSVM)
    fresh.__dict__.update({k: v for k, v in model.__dict__.items() if k != "_support_enc"})
    np.testing.assert_allclose(fresh.decision_function(xte, batch_size=20), kept, rtol=1e-6, atol=1e-8)
    assert counted.count(model.n_support_) == 4 * n_shapes


def svc_with_side_kernel(seqs, y, test, gamma: float, F: np.ndarray, Ft: np.ndarray, weight: float) -> np.ndarray:
    """Decision values on ``test`` of an SVC (C 1) on the l=6, k=3 gkm kernel (RBF ``gamma``) plus
    ``weight`` / (number of features) times the linear kernel of the standardised features ``F``."""
    mu, sd = F.mean(0), F.std(0)
    Z, Zt = (F - mu) / sd, (Ft - mu) / sd
    K, n, _ = gkm_kernel(seqs, None, l=6, k=3)
    Kt, nt, _ = gkm_kernel(test, seqs, l=6, k=3)
    side = weight / F.shape[1]
    svc = SVC(kernel="precomputed", C=1.0).fit(rbf(normalise(K, n, n), gamma) + side * Z @ Z.T, y)
    return svc.decision_function(rbf(normalise(Kt, nt, n), gamma) + side * Zt @ Z.T)


@pytest.fixture(scope="module")
def repeat_world(tmp_path_factory):
    return repeat_genome_world(tmp_path_factory.mktemp("repeat_world"))


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_copies_kernel_sees_repeats_and_equals_svc_on_the_summed_kernel(repeat_world, tmp_path, monkeypatch, gamma):
    from genomic_ulmfit.data.copies import GenomeCopies, copy_features

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    genome, (seqs, y), (test, yt) = repeat_world
    settings = {"l": 6, "k": 3, "Cs": (1.0,), "gammas": (gamma,)}
    plain = GkmSVM(**settings).fit(seqs, y, progress=False)
    model = GkmSVM(**settings, copies_genome=str(genome), copies_weight=2.0).fit(seqs, y, progress=False)
    assert roc_auc_score(yt, plain.decision_function(test)) < 0.75
    assert roc_auc_score(yt, model.decision_function(test)) > 0.95
    # the saved linear term is exactly the SVM on gkm kernel + weight/8 * Z Z^T
    expected = svc_with_side_kernel(seqs, y, test, gamma, copy_features(seqs, GenomeCopies.cached([genome], 20)),
                                    copy_features(test, GenomeCopies.cached([genome], 20)), 2.0)
    np.testing.assert_allclose(model.decision_function(test), expected, rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "run")
    assert len(json.loads((tmp_path / "run" / "model.json").read_text())["copies"]["genome_digest"]) == 64
    np.testing.assert_array_equal(load_model(tmp_path / "run").decision_function(test), model.decision_function(test))


def test_copies_gkm_refuses_a_changed_genome_and_bad_settings(repeat_world, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    source, (seqs, y), (test, _) = repeat_world
    genome = tmp_path / "genome.fa"
    genome.write_text(source.read_text())
    GkmSVM(l=6, k=3, Cs=(1.0,), gammas=(0.0,), copies_genome=str(genome)).fit(seqs, y, progress=False).save(
        tmp_path / "run")
    genome.write_text(source.read_text().replace("A", "G", 40))
    with pytest.raises(InputError, match="not the ones this model was trained with"):
        load_model(tmp_path / "run").decision_function(test)
    with pytest.raises(ConfigError, match="copies_weight"):
        GkmSVM(copies_genome=str(genome), copies_weight=-1).fit(seqs, y, progress=False)


@pytest.mark.parametrize("gamma", [0.0, 2.0])
def test_motif_kernel_equals_svc_on_the_summed_kernel_and_round_trips(tmp_path, gamma):
    from genomic_ulmfit.data.motifs import MOTIFS, max_motif_scores, pwm_stack

    seqs, y = sampled_sites_world(240, seed=0)
    test, yt = sampled_sites_world(120, seed=1)
    settings = {"l": 6, "k": 3, "Cs": (1.0,), "gammas": (gamma,)}
    model = GkmSVM(**settings, motifs="liver", motifs_weight=2.0).fit(seqs, y, progress=False)
    assert roc_auc_score(yt, model.decision_function(test)) > 0.9
    pwm, widths = pwm_stack(list(MOTIFS.values()))
    expected = svc_with_side_kernel(seqs, y, test, gamma, max_motif_scores(seqs, pwm, widths),
                                    max_motif_scores(test, pwm, widths), 2.0)
    np.testing.assert_allclose(model.decision_function(test), expected, rtol=1e-4, atol=1e-4)
    model.save(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "model.json").read_text())["motifs"]["names"] == list(MOTIFS)
    loaded = load_model(tmp_path / "run")
    np.testing.assert_array_equal(loaded.decision_function(test), model.decision_function(test))
    with pytest.raises(ConfigError, match="motifs_weight"):
        GkmSVM(motifs="liver", motifs_weight=float("nan")).fit(seqs, y, progress=False)
