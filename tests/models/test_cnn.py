"""Tests of DNA one-hot encoding, CohnCNN and ModernCNN (tiny sizes, one core)."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from genomic_ulmfit.data.sequences import revcomp
from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.models.cnn import (
    CNNConfig,
    CohnCNN,
    ModernCNN,
    RCConv1d,
    build_cnn,
    canonical_kmer_index,
    center_fit,
    codes_to_one_hot,
    cohn_output_length,
    encode_bases,
    kmer_spectrum,
    kmer_spectrum_size,
    one_hot,
    revcomp_one_hot,
    reverse_within_length,
)
from toy import cohn_cnn, group_parameters, randomize_batchnorm, tiny_cnn_config, tiny_modern_cnn, toy_dna

# --------------------------------------------------------------------------- encoding

COLUMN = {
    "A": [1, 0, 0, 0],
    "C": [0, 1, 0, 0],
    "G": [0, 0, 1, 0],
    "T": [0, 0, 0, 1],
    "N": [0.25] * 4,
    "": [0, 0, 0, 0],  # padding
}


def _reference_one_hot(seqs: list[str], length: int | None, center: bool) -> np.ndarray:
    """Slow per-base one-hot with the documented crop/pad rules."""
    if center:
        width = length
    else:
        width = max([length or 0, *(len(s) for s in seqs)])
    out = np.zeros((len(seqs), 4, width), dtype=np.float32)
    for i, s in enumerate(seqs):
        s = s.upper()
        if center and len(s) > width:
            start = (len(s) - width) // 2
            s, offset = s[start : start + width], 0
        else:
            offset = (width - len(s)) // 2 if center else 0
        for j, ch in enumerate(s):
            out[i, :, offset + j] = COLUMN[ch]
    return out


def test_one_hot_columns():
    x = one_hot(["ACGTN", "ac"])
    assert x.shape == (2, 4, 5) and x.dtype == np.float32
    expected = np.array([COLUMN[c] for c in "ACGTN"], dtype=np.float32).T
    np.testing.assert_array_equal(x[0], expected)
    np.testing.assert_array_equal(x[1][:, :2], np.array([COLUMN["A"], COLUMN["C"]]).T)
    np.testing.assert_array_equal(x[1][:, 2:], 0)  # right padding is all zeros


def test_one_hot_lengths_and_centering():
    assert one_hot(["ACG"], length=6).shape == (1, 4, 6)
    assert one_hot(["ACGTACGT"], length=6).shape == (1, 4, 8)  # not cut without center
    np.testing.assert_array_equal(one_hot(["AACCGGTT"], length=4, center=True), one_hot(["CCGG"]))
    centred = one_hot(["CG"], length=6, center=True)
    np.testing.assert_array_equal(centred[0].argmax(0)[2:4], [1, 2])
    np.testing.assert_array_equal(centred[0][:, [0, 1, 4, 5]], 0)


@settings(max_examples=60, deadline=None)
@given(
    seqs=st.lists(st.text(alphabet="ACGTNacgt", min_size=0, max_size=30), min_size=1, max_size=6),
    length=st.one_of(st.none(), st.integers(min_value=1, max_value=25)),
    center=st.booleans(),
)
def test_one_hot_matches_reference(seqs, length, center):
    if center and length is None:
        length = 10
    np.testing.assert_array_equal(
        one_hot(seqs, length, center=center), _reference_one_hot(seqs, length, center)
    )


def test_code_inputs_agree_with_strings():
    seqs = ["ACGTN", "GGA", "nnT"]
    codes = encode_bases(seqs)
    assert codes.dtype == np.uint8 and codes.shape == (3, 5)
    np.testing.assert_array_equal(one_hot(codes), one_hot(seqs))
    torch.testing.assert_close(codes_to_one_hot(torch.as_tensor(codes)), torch.as_tensor(one_hot(seqs)))
    with pytest.raises(ValueError, match="base codes"):
        one_hot(np.full((1, 3), 9, dtype=np.uint8))


def test_revcomp_one_hot_keeps_right_padding():
    seqs = ["ACGTTN", "AAC", "G"]
    x = torch.as_tensor(one_hot(seqs))
    expected = torch.as_tensor(one_hot([revcomp(s) for s in seqs]))
    torch.testing.assert_close(revcomp_one_hot(x), expected)
    torch.testing.assert_close(revcomp_one_hot(revcomp_one_hot(x)), x)


def test_center_fit():
    x = torch.arange(10.0).view(1, 1, 10)
    assert center_fit(x, 6).flatten().tolist() == [2, 3, 4, 5, 6, 7]
    assert center_fit(x[..., :4], 7).flatten().tolist() == [0, 0, 1, 2, 3, 0, 0]


# --------------------------------------------------------------------------- config


def test_config_round_trip_through_json():
    cfg = CNNConfig(arch="cohn", dropout=0.1, dilations=(2, 4))
    assert CNNConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"arch": "resnet"}, "arch"),
        ({"chanels": 8}, "chanels"),
        ({"channels": "8"}, "channels"),
        ({"dilations": [2, "4"]}, "dilations"),
        ({"stem_width": 16}, "stem_width"),
        ({"dropout": 1.0}, "dropout"),
        ({"cohn_pools": [3, 4]}, "cohn_pools"),
    ],
)
def test_config_errors_name_the_key(data, key):
    with pytest.raises(ConfigError, match=repr(key)):
        CNNConfig.from_dict(data)


def test_build_cnn():
    assert isinstance(build_cnn(CNNConfig(arch="cohn")), CohnCNN)
    assert isinstance(build_cnn(tiny_cnn_config()), ModernCNN)


# --------------------------------------------------------------------------- CohnCNN


def test_cohn_layer_shapes_at_500():
    model = cohn_cnn().eval()
    x = torch.as_tensor(one_hot(toy_dna(3, 500)))
    shapes = [tuple(t.shape) for t in model.layer_outputs(x)]
    assert shapes == [(3, 20, 492), (3, 20, 164), (3, 30, 40), (3, 40, 9)]
    assert cohn_output_length(model.cfg) == 9
    assert model.head[1].in_features == 360
    assert model(x).shape == (3, 2)


def test_cohn_first_layer_is_strand_symmetric():
    model = cohn_cnn().eval()
    x = torch.as_tensor(one_hot(toy_dna(2, 500, n_frac=0.05)))
    rc = revcomp_one_hot(x)
    with torch.no_grad():
        first, first_rc = model.layer_outputs(x)[0], model.layer_outputs(rc)[0]
        torch.testing.assert_close(first_rc, first.flip(2))
        # Globally pooled first-layer scores are identical on both strands...
        torch.testing.assert_close(first_rc.amax(2), first.amax(2))
        # ...which a plain convolution does not give.
        plain, plain_rc = model.rc_conv.conv(x), model.rc_conv.conv(rc)
        assert not torch.allclose(plain_rc, plain.flip(2), atol=1e-3)


def test_cohn_centre_crops_other_lengths():
    model = cohn_cnn().eval()
    long = toy_dna(2, 540)
    with torch.no_grad():
        a = model(torch.as_tensor(one_hot(long)))
        b = model(torch.as_tensor(one_hot([s[20:520] for s in long])))
    torch.testing.assert_close(a, b)


def test_cohn_batch_size_invariance():
    model = cohn_cnn().eval()
    x = torch.as_tensor(one_hot(toy_dna(5, 500, seed=2)))
    with torch.no_grad():
        torch.testing.assert_close(
            model(x), torch.cat([model(x[i : i + 1]) for i in range(5)]), atol=1e-5, rtol=1e-5
        )


# --------------------------------------------------------------------------- ModernCNN


def _eval_modern(seed: int = 0, **overrides) -> ModernCNN:
    model = tiny_modern_cnn(seed, **overrides).eval()
    randomize_batchnorm(model, seed)
    return model


def test_modern_shapes_any_length():
    model = _eval_modern()
    for length in (1, 37, 200):
        assert model(torch.as_tensor(one_hot(toy_dna(3, length)))).shape == (3, 2)


def test_modern_is_reverse_complement_symmetric():
    model = _eval_modern()
    seqs = toy_dna(3, 61, n_frac=0.05) + ["ACGTTGCAAGT", "GATTACA"]
    x = torch.as_tensor(one_hot(seqs))
    rc = torch.as_tensor(one_hot([revcomp(s) for s in seqs]))
    with torch.no_grad():
        torch.testing.assert_close(model(rc), model(x), atol=1e-5, rtol=1e-5)
        # One strand alone is not symmetric: the averaging is what makes it so.
        assert not torch.allclose(model.strand_logits(rc), model.strand_logits(x), atol=1e-4)


def test_modern_ignores_right_padding():
    model = _eval_modern()
    seqs = toy_dna(1, 50, seed=5)
    with torch.no_grad():
        alone = model(torch.as_tensor(one_hot(seqs)))
        padded = model(torch.as_tensor(one_hot(seqs, length=83)))
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-5)


def test_modern_batch_size_invariance_with_mixed_lengths():
    model = _eval_modern()
    seqs = [s[: 30 + 7 * i] for i, s in enumerate(toy_dna(5, 60, seed=6, n_frac=0.02))]
    with torch.no_grad():
        batch = model(torch.as_tensor(one_hot(seqs)))
        singles = torch.cat([model(torch.as_tensor(one_hot([s]))) for s in seqs])
    torch.testing.assert_close(batch, singles, atol=1e-5, rtol=1e-5)


def test_modern_trains_and_dropout_only_in_training():
    model = tiny_modern_cnn(dropout=0.5)
    x = torch.as_tensor(one_hot(toy_dna(4, 40)))
    torch.manual_seed(0)
    a, b = model.train()(x), model(x)
    assert not torch.allclose(a, b)
    torch.nn.functional.cross_entropy(a, torch.tensor([0, 1, 0, 1])).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


# --------------------------------------------------------------------------- layer groups


@pytest.mark.parametrize("model", [cohn_cnn(), tiny_modern_cnn()], ids=["cohn", "modern"])
def test_layer_groups_partition_parameters(model):
    groups = group_parameters(model.layer_groups())
    assert len(groups) == 2
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}


# --------------------------------------------------------------------------- strand helpers, k-mers


def test_rc_conv_is_max_over_filter_and_its_reverse_complement():
    torch.manual_seed(0)
    layer = RCConv1d(5, 7, padding=3)
    x = torch.as_tensor(one_hot(toy_dna(3, 40, n_frac=0.05)))
    with torch.no_grad():
        expected = torch.maximum(layer.conv(x), layer.conv(x.flip(1, 2)).flip(2))
        torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)


def test_reverse_within_length():
    x = torch.arange(12.0).view(2, 1, 6)
    lens = torch.tensor([6, 4])
    assert reverse_within_length(x, lens).tolist() == [[[5, 4, 3, 2, 1, 0]], [[9, 8, 7, 6, 0, 0]]]
    assert reverse_within_length(x, lens, zero_padding=False)[1, 0, :4].tolist() == [9, 8, 7, 6]


@pytest.mark.parametrize(("k", "size"), [(1, 2), (2, 10), (3, 32), (4, 136)])
def test_canonical_kmer_index(k, size):
    canon, rc = canonical_kmer_index(k)
    assert len(canon) == len(rc) == size
    assert (canon <= rc).all() and len(set(canon) | set(rc)) == 4**k  # covers every k-mer
    assert kmer_spectrum_size(4) == 2 + 10 + 32 + 136


def _reference_spectrum(seq: str, k_max: int) -> np.ndarray:
    """Slow canonical k-mer frequencies (sqrt) of one upper-case string, skipping N windows."""
    out = []
    for k in range(1, k_max + 1):
        kmers = ["".join(p) for p in itertools.product("ACGT", repeat=k)]
        counts = Counter(seq[i : i + k] for i in range(len(seq) - k + 1) if "N" not in seq[i : i + k])
        both = {w: counts[w] + counts[revcomp(w)] for w in kmers if w <= revcomp(w)}
        total = max(sum(both.values()), 1)
        out += [np.sqrt(both[w] / total) for w in sorted(both)]
    return np.array(out, dtype=np.float32)


@settings(max_examples=40, deadline=None)
@given(
    seqs=st.lists(st.text(alphabet="ACGTN", min_size=0, max_size=25), min_size=1, max_size=4),
    k_max=st.integers(min_value=1, max_value=3),
)
def test_kmer_spectrum_matches_reference(seqs, k_max):
    got = kmer_spectrum(torch.as_tensor(one_hot(seqs, length=30)), k_max)  # right-padded to 30
    expected = np.stack([_reference_spectrum(s, k_max) for s in seqs])
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)


def test_kmer_spectrum_is_strand_symmetric():
    seqs = toy_dna(3, 50, n_frac=0.05) + ["ACGTTTGAC"]
    x = torch.as_tensor(one_hot(seqs))
    torch.testing.assert_close(kmer_spectrum(revcomp_one_hot(x), 4), kmer_spectrum(x, 4))


def test_kmer_branch_changes_logits_and_is_in_a_layer_group():
    model = _eval_modern(kmer_k=3)
    assert model.out.in_features == 2 * model.cfg.channels + kmer_spectrum_size(3)
    x = torch.as_tensor(one_hot(toy_dna(3, 40)))
    with torch.no_grad():
        base = model(x)
        model.kmer_bn.bias.add_(1.0)
        assert not torch.allclose(model(x), base)


@pytest.mark.parametrize("kmer_k", [0, 3])
def test_modern_forward_is_the_mean_of_both_strands(kmer_k):
    """The fast path (stem once, reversed) equals running each strand through strand_logits."""
    model = _eval_modern(kmer_k=kmer_k)
    seqs = [s[: 20 + 9 * i] for i, s in enumerate(toy_dna(4, 60, seed=3, n_frac=0.03))]
    x = torch.as_tensor(one_hot(seqs))
    with torch.no_grad():
        expected = (model.strand_logits(x) + model.strand_logits(revcomp_one_hot(x))) / 2
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-5)


def test_kmer_config_errors():
    with pytest.raises(ConfigError, match="'kmer_k'"):
        CNNConfig(kmer_k=7)
    with pytest.raises(ConfigError, match="'kmer_dropout'"):
        CNNConfig(kmer_dropout=1.0)
