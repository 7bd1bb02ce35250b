"""KmerTokenizer: vocabulary, token counts, exactness against a slow reference, round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.tokenize import KmerTokenizer

ACGT = st.text(alphabet="ACGT", max_size=120)
ANY_DNA = st.text(alphabet="ACGTacgtNnRY-", max_size=120)


@st.composite
def k_stride(draw):
    k = draw(st.integers(1, 8))
    return k, draw(st.integers(1, k))


def reference_ids(seq: str, k: int, stride: int) -> np.ndarray:
    """Slow, obviously correct reference: Python slicing and a dict of upper-case k-mers."""
    tok = KmerTokenizer(k, stride)
    stoi = {kmer: i for i, kmer in enumerate(tok.itos)}
    s = seq.upper()
    return np.array([stoi.get(s[i : i + k], 1) for i in range(0, len(s) - k + 1, stride)], dtype=np.int64)


def test_vocabulary_is_lexicographic():
    tok = KmerTokenizer(4, 2)
    assert tok.vocab_size == 4**4 + 3 == len(tok.itos) == len(tok)
    assert tok.itos[:3] == ["<pad>", "<unk>", "<bos>"]
    assert (tok.pad_id, tok.unk_id, tok.bos_id) == (0, 1, 2)
    assert tok.itos[3:] == sorted(tok.itos[3:])
    assert tok.encode_one("AAAA").tolist() == [3]
    assert tok.encode_one("AAAC").tolist() == [4]
    assert tok.encode_one("CAAA").tolist() == [3 + 64]
    assert tok.encode_one("TTTT").tolist() == [258]
    assert tok.encode_one("AAAACCCC").tolist() == [3, 3 + 0b00000101, 3 + 0b01010101]


@pytest.mark.parametrize(("k", "stride", "expected"), [(4, 2, 249), (5, 2, 248), (3, 1, 498), (6, 3, 165)])
def test_seed_token_counts(k, stride, expected):
    tok = KmerTokenizer(k, stride)
    assert tok.n_tokens(500) == expected
    assert tok.encode_one("ACGT" * 125).shape == (expected,)


@given(k_stride(), st.integers(0, 700))
def test_token_count_formula(ks, length):
    k, stride = ks
    tok = KmerTokenizer(k, stride)
    expected = max(0, (length - k) // stride + 1)
    assert tok.n_tokens(length) == expected
    assert tok.encode_one("G" * length).shape == (expected,)


@pytest.mark.parametrize(
    ("k", "dtype"), [(1, np.uint8), (3, np.uint8), (4, np.uint16), (7, np.uint16), (8, np.uint32)]
)
def test_default_dtype_is_smallest(k, dtype):
    tok = KmerTokenizer(k, 1)
    assert tok.dtype == np.dtype(dtype)
    assert tok.encode(["T" * 12]).dtype == np.dtype(dtype)
    assert int(tok.encode_one("T" * k)[0]) == tok.vocab_size - 1  # the largest id survives the dtype


def test_explicit_dtype_and_too_small_dtype():
    tok = KmerTokenizer(4, 2)
    assert tok.encode(["ACGTACGT"], dtype=np.int64).dtype == np.int64
    with pytest.raises(ConfigError, match="uint8"):
        tok.encode(["ACGTACGT"], dtype=np.uint8)


@settings(max_examples=200, deadline=None)
@given(k_stride(), st.lists(ANY_DNA, min_size=1, max_size=6))
def test_matches_slow_reference(ks, seqs):
    k, stride = ks
    tok = KmerTokenizer(k, stride)
    refs = [reference_ids(s, k, stride) for s in seqs]
    unpadded = tok.encode(seqs, pad=False)
    padded = tok.encode(seqs)
    assert padded.shape == (len(seqs), max(len(r) for r in refs))
    for i, ref in enumerate(refs):
        np.testing.assert_array_equal(unpadded[i], ref)
        np.testing.assert_array_equal(tok.encode_one(seqs[i]), ref)
        np.testing.assert_array_equal(padded[i, : len(ref)], ref)
        assert (padded[i, len(ref) :] == tok.pad_id).all()


@settings(max_examples=100, deadline=None)
@given(k_stride(), st.integers(1, 6), st.integers(0, 80), st.data())
def test_equal_length_batch_matches_reference(ks, n, length, data):
    k, stride = ks
    seqs = [data.draw(st.text(alphabet="ACGTNacgt", min_size=length, max_size=length)) for _ in range(n)]
    tok = KmerTokenizer(k, stride)
    got = tok.encode(seqs)
    assert got.shape == (n, tok.n_tokens(length))
    for row, s in zip(got, seqs, strict=True):
        np.testing.assert_array_equal(row, reference_ids(s, k, stride))


@settings(deadline=None)
@given(k_stride(), ACGT)
def test_decode_round_trip(ks, seq):
    k, stride = ks
    tok = KmerTokenizer(k, stride)
    ids = tok.encode_one(seq)
    covered = (len(ids) - 1) * stride + k if len(ids) else 0
    assert tok.decode(ids) == seq[:covered]
    # Padding and <bos> are ignored.
    assert tok.decode(np.concatenate([[tok.bos_id], ids, [tok.pad_id] * 3])) == seq[:covered]


@settings(deadline=None)
@given(k_stride(), st.text(alphabet="ACGTN", min_size=8, max_size=80))
def test_decode_with_unknowns(ks, seq):
    """A base decodes to itself when some N-free k-mer covers it, else to N."""
    k, stride = ks
    tok = KmerTokenizer(k, stride)
    ids = tok.encode_one(seq)
    decoded = tok.decode(ids)
    for p, base in enumerate(decoded):
        starts = [i * stride for i in range(len(ids)) if i * stride <= p < i * stride + k]
        seen = any("N" not in seq[s : s + k] for s in starts)
        assert base == (seq[p] if seen else "N")


def test_decode_tokens():
    tok = KmerTokenizer(3, 3)
    assert tok.decode_tokens(tok.encode_one("ACGNTTGGC")) == ["ACG", "<unk>", "GGC"]


@settings(deadline=None)
@given(k_stride(), ACGT)
def test_lower_case_equals_upper_case(ks, seq):
    tok = KmerTokenizer(*ks)
    np.testing.assert_array_equal(tok.encode_one(seq.lower()), tok.encode_one(seq))


def test_n_and_other_characters_give_unk():
    tok = KmerTokenizer(4, 2)
    ids = tok.encode_one("ACGTNACGTA")  # k-mers ACGT GTNA NACG CGTA
    assert ids.tolist() == [tok.encode_one("ACGT")[0], 1, 1, tok.encode_one("CGTA")[0]]
    assert (tok.encode_one("N" * 1000) == tok.unk_id).all()  # the dense-invalid path
    assert tok.encode_one("ACGé").tolist() == [1]  # non-ASCII counts as one invalid base
    assert tok.encode_one("ACGTRY").tolist() == [tok.encode_one("ACGT")[0], 1]


def test_short_sequences_and_empty_batch():
    tok = KmerTokenizer(5, 2)
    assert tok.encode_one("ACGT").shape == (0,)
    assert tok.encode_one("").shape == (0,)
    assert tok.encode([]).shape == (0, 0)
    assert tok.encode([], pad=False) == []
    out = tok.encode(["ACG", "ACGTACG", ""])
    assert out.shape == (3, 2)
    assert out[0].tolist() == [0, 0] and out[2].tolist() == [0, 0]
    assert [len(a) for a in tok.encode(["ACG", "ACGTACG", ""], pad=False)] == [0, 2, 0]


def test_encode_bytes_accepts_bytes_arrays_and_str():
    tok = KmerTokenizer(5, 2)
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGTNacgt"), size=5003))
    ref = reference_ids(seq, 5, 2)
    np.testing.assert_array_equal(tok.encode_bytes(seq.encode()), ref)
    np.testing.assert_array_equal(tok.encode_bytes(bytearray(seq.encode())), ref)
    np.testing.assert_array_equal(tok.encode_bytes(np.frombuffer(seq.encode(), dtype=np.uint8)), ref)
    np.testing.assert_array_equal(tok.encode_bytes(seq), ref)
    with pytest.raises(TypeError, match="uint8"):
        tok.encode_bytes(np.zeros(10, dtype=np.int32))


def test_encode_rejects_a_single_string():
    with pytest.raises(TypeError, match="encode_one"):
        KmerTokenizer(4, 2).encode("ACGTACGT")


def test_batch_accepts_generators_and_tuples():
    tok = KmerTokenizer(4, 2)
    seqs = ("ACGTACGTAA", "TTTTGGGGCC")
    np.testing.assert_array_equal(tok.encode(s for s in seqs), tok.encode(list(seqs)))
    np.testing.assert_array_equal(tok(seqs), tok.encode(list(seqs)))


@pytest.mark.parametrize(
    ("k", "stride", "match"),
    [(0, 1, "k=0"), (9, 2, "k=9"), (4, 0, "stride=0"), (4, 5, "stride=5"), (2.5, 1, "k=2.5")],
)
def test_invalid_configuration(k, stride, match):
    with pytest.raises(ConfigError, match=match):
        KmerTokenizer(k, stride)


def test_serialisation_round_trip():
    tok = KmerTokenizer(5, 2)
    d = json.loads(json.dumps(tok.to_dict()))
    assert d == {"type": "kmer", "k": 5, "stride": 2, "specials": ["<pad>", "<unk>", "<bos>"]}
    again = KmerTokenizer.from_dict(d)
    assert again == tok and hash(again) == hash(tok)
    assert again != KmerTokenizer(5, 1)
    assert repr(tok) == "KmerTokenizer(k=5, stride=2, vocab_size=1027)"
    with pytest.raises(ConfigError, match="unknown key"):
        KmerTokenizer.from_dict({**d, "vocab": 3})
    with pytest.raises(ConfigError, match="type"):
        KmerTokenizer.from_dict({**d, "type": "bpe"})
    with pytest.raises(ConfigError, match="specials"):
        KmerTokenizer.from_dict({**d, "specials": ["<pad>"]})
    with pytest.raises(ConfigError, match="required"):
        KmerTokenizer.from_dict({"type": "kmer", "k": 3})


@settings(max_examples=60, deadline=None)
@given(
    k_stride(), st.lists(st.text(alphabet="ACGTNa", max_size=40), min_size=1, max_size=12), st.integers(1, 64)
)
def test_chunked_work_matches_reference(ks, seqs, chunk):
    """Tiny work pieces (many row groups and token pieces) give the same ids as one piece."""
    from genomic_ulmfit.tokenize import kmer

    k, stride = ks
    tok = KmerTokenizer(k, stride)
    old = kmer.CHUNK_BASES
    kmer.CHUNK_BASES = chunk
    try:
        got = tok.encode(seqs, pad=False)
        equal = tok.encode([s.ljust(40, "C") for s in seqs])
        long_ids = tok.encode_bytes("".join(seqs).encode())
    finally:
        kmer.CHUNK_BASES = old
    for ids, s in zip(got, seqs, strict=True):
        np.testing.assert_array_equal(ids, reference_ids(s, k, stride))
    np.testing.assert_array_equal(equal, tok.encode([s.ljust(40, "C") for s in seqs]))
    np.testing.assert_array_equal(long_ids, reference_ids("".join(seqs), k, stride))
