"""LM corpus building (FASTA streaming, chunking, splits) and the batch iterators."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from genomic_ulmfit.data.corpus import (
    ArrayBatches,
    ClassificationBatches,
    Corpus,
    LMBatches,
    _RunTokenizer,
    _TokenWriter,
    build_genome_corpus,
    build_sequence_corpus,
    iter_fasta_blocks,
)
from genomic_ulmfit.errors import InputError
from genomic_ulmfit.tokenize.kmer import KmerTokenizer


def _random_dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


def _write_fasta(path, records: dict[str, str], width: int = 60, gz: bool = False) -> None:
    text = "".join(
        f">{name} description\n" + "".join(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
        for name, seq in records.items()
    )
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())


@pytest.fixture
def genome(tmp_path):
    """chr1: 5 chunks of 100 bp (chunk 1 has an N, chunk 3 a lower-case n) + a 50 bp tail; chr2: 230 bp."""
    rng = np.random.default_rng(0)
    chr1 = list(_random_dna(rng, 550).lower()[:200].upper() + _random_dna(rng, 350))
    chr1[150] = "N"
    chr1[333] = "n"
    records = {"chr1": "".join(chr1), "chr2": _random_dna(rng, 230)}
    _write_fasta(tmp_path / "g.fa.gz", records, gz=True)
    return tmp_path / "g.fa.gz", records


def test_chunks_mode_counts_bos_dtype_and_split(genome, tmp_path):
    path, records = genome
    tok = KmerTokenizer(3, 1)
    c = build_genome_corpus(path, tok, tmp_path / "corpus", chunk_size=100, piece_size=40, valid_frac=0.25,
                            seed=1, progress=False)
    m = c.manifest["counts"]
    # chr1: chunks 0, 2, 4 and the 50 bp tail kept (1 and 3 dropped); chr2: 100, 100, 30
    assert m["chunks_kept"] == 7 and m["chunks_dropped"] == 2
    n_pieces = 3 * 3 + 2 + 3 + 3 + 1  # 100 bp → 40+40+20; 50 → 40+10; 30 → 30
    assert m["docs"] == n_pieces == m["train_docs"] + m["valid_docs"] and m["valid_docs"] >= 1
    assert isinstance(c.train_tokens, np.memmap) and c.train_tokens.dtype == np.uint8
    assert tok.vocab_size <= 256
    for split in ("train", "valid"):
        toks, starts = getattr(c, f"{split}_tokens"), getattr(c, f"{split}_starts")
        assert np.all(toks[starts] == tok.bos_id)
        assert np.count_nonzero(np.asarray(toks) == tok.bos_id) == len(starts)
        ends = np.append(starts[1:], len(toks))
        for (fi, rec, off), a, b in zip(c.origins(split), starts, ends, strict=True):
            record = list(records.values())[rec]
            seq = record[off : min(off + 40, (off // 100 + 1) * 100)].upper()  # pieces end at chunk ends
            assert fi == 0 and tok.decode(toks[a + 1 : b]) == seq  # tokens are the piece
            assert "N" not in seq
    origins = {tuple(o) for s in ("train", "valid") for o in c.origins(s)}
    assert len(origins) == n_pieces  # train and valid are disjoint and cover every piece
    again = Corpus.load(tmp_path / "corpus")
    np.testing.assert_array_equal(again.valid_tokens, c.valid_tokens)
    assert again.tokenizer == tok
    assert len(c.manifest["sources"][0]["sha256"]) == 64


def test_split_is_deterministic_per_seed(genome, tmp_path):
    path, _ = genome
    tok = KmerTokenizer(3, 1)
    kw = {"chunk_size": 100, "piece_size": 20, "valid_frac": 0.3, "progress": False}
    a = build_genome_corpus(path, tok, tmp_path / "a", seed=3, **kw)
    b = build_genome_corpus(path, tok, tmp_path / "b", seed=3, **kw)
    c = build_genome_corpus(path, tok, tmp_path / "c", seed=4, **kw)
    np.testing.assert_array_equal(a.origins("valid"), b.origins("valid"))
    assert not np.array_equal(a.origins("valid"), c.origins("valid"))


def test_stream_mode_documents_are_acgt_runs(genome, tmp_path):
    path, records = genome
    tok = KmerTokenizer(4, 2)
    c = build_genome_corpus(path, tok, tmp_path / "s", mode="stream", valid_frac=0.0, progress=False)
    assert c.train_tokens.dtype == np.uint16 and len(c.valid_tokens) == 0
    chr1 = records["chr1"].upper()
    runs = [chr1[:150], chr1[151:333], chr1[334:], records["chr2"]]
    expected = np.concatenate([np.concatenate(([tok.bos_id], tok.encode_bytes(r))) for r in runs])
    np.testing.assert_array_equal(c.train_tokens, expected)
    np.testing.assert_array_equal(c.origins("train")[:, 2], [0, 151, 334, 0])


def test_stream_mode_cuts_long_runs_into_bounded_documents(genome, tmp_path):
    # One document per run let a megabase run fill the valid split alone and ignore a token cap.
    path, records = genome
    tok = KmerTokenizer(4, 2)
    whole = build_genome_corpus(path, tok, tmp_path / "w", mode="stream", valid_frac=0.0, progress=False)
    c = build_genome_corpus(path, tok, tmp_path / "s", mode="stream", valid_frac=0.0, piece_size=40, progress=False)
    np.testing.assert_array_equal(c.train_tokens, whole.train_tokens)  # the same stream, more documents
    starts, toks = c.train_starts, c.train_tokens
    lengths = np.diff(np.append(starts, len(toks)))
    assert lengths.max() <= 20 and len(starts) > len(whole.train_starts)
    seqs = [records["chr1"].upper(), records["chr2"].upper()]
    for (_, rec, off), a, n in zip(c.origins("train"), starts, lengths, strict=True):
        body = toks[a + 1 : a + n] if toks[a] == tok.bos_id else toks[a : a + n]
        assert tok.decode(body) == seqs[rec][off : off + (len(body) - 1) * 2 + 4]  # origins point at the bases


@settings(max_examples=30, deadline=None)
@given(
    seq=st.text("ACGTN", min_size=0, max_size=80),
    block=st.integers(1, 9),
    ks=st.sampled_from([(3, 1), (4, 2), (5, 3)]),
)
def test_incremental_run_tokenizer_equals_whole_runs(seq, block, ks, tmp_path_factory):
    tok = KmerTokenizer(*ks)
    path = tmp_path_factory.mktemp("runs") / "t.bin"
    w = _TokenWriter(path, np.dtype(np.uint16), tok.bos_id)
    rt = _RunTokenizer(tok, w, block=block)
    for i in range(0, len(seq), 7):  # blocks of 7 bases, pending flushed every `block` bases
        rt.feed(seq[i : i + 7].encode(), (0, 0, i))
    rt.close()
    w.close()
    got = np.fromfile(path, dtype=np.uint16)
    runs = [r for r in seq.split("N") if len(r) >= tok.k]
    want = [np.concatenate(([tok.bos_id], tok.encode_bytes(r))) for r in runs]
    np.testing.assert_array_equal(got, np.concatenate(want) if want else np.zeros(0, np.uint16))


def test_fasta_reader_plain_equals_gzip_and_rejects_bad_input(tmp_path):
    rng = np.random.default_rng(1)
    records = {"a": _random_dna(rng, 1000), "b": "", "c": _random_dna(rng, 77)}
    _write_fasta(tmp_path / "x.fa", records, width=70)
    _write_fasta(tmp_path / "x.fa.gz", records, width=13, gz=True)
    a = list(iter_fasta_blocks(tmp_path / "x.fa", 64))
    b = list(iter_fasta_blocks(tmp_path / "x.fa.gz", 64))
    assert a == b
    assert b"".join(blk for rec, _, _, blk in a if rec == 0).decode() == records["a"]
    assert all(len(blk) == 64 for rec, _, off, blk in a if rec == 0 and off + 64 <= 1000)
    assert [name for _, name, _, _ in a][-1] == "c"
    (tmp_path / "bad.fa").write_text(">a\nACGT\nAC1T\n")
    with pytest.raises(InputError, match="line 3"):
        list(iter_fasta_blocks(tmp_path / "bad.fa", 10))
    (tmp_path / "protein.fa").write_text(">p\nMKVLAAGIVE\n")
    with pytest.raises(InputError, match="line 2: invalid character 'L' .*is this a protein FASTA"):
        list(iter_fasta_blocks(tmp_path / "protein.fa", 10))
    (tmp_path / "nohead.fa").write_text("ACGT\n")
    with pytest.raises(InputError, match="header"):
        list(iter_fasta_blocks(tmp_path / "nohead.fa", 10))


def test_all_chunks_with_n_is_an_input_error(tmp_path):
    _write_fasta(tmp_path / "n.fa", {"x": "ACGTN" * 40})
    with pytest.raises(InputError, match="every 50-bp chunk .records are cut on a fixed 50-bp grid. holds an N or IUPAC base; use --mode stream"):
        build_genome_corpus(tmp_path / "n.fa", KmerTokenizer(3, 1), tmp_path / "c", chunk_size=50, progress=False)


def test_records_shorter_than_k_are_not_blamed_on_n(tmp_path):
    _write_fasta(tmp_path / "s.fa", {"a": "ACG", "b": "GT"})
    with pytest.raises(InputError, match="no stretch of 4 or more A/C/G/T bases"):
        build_genome_corpus(tmp_path / "s.fa", KmerTokenizer(4, 2), tmp_path / "c", progress=False)


def test_load_needs_a_readable_corpus_manifest(tmp_path):
    with pytest.raises(InputError, match="no manifest.json here"):
        Corpus.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(InputError, match=r"manifest\.json: not valid JSON \(.* at line 1\)"):
        Corpus.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(InputError, match="not a genomic-ulmfit corpus"):
        Corpus.load(tmp_path)


def test_sequence_corpus_in_memory_equals_on_disk(tmp_path):
    rng = np.random.default_rng(2)
    seqs = [_random_dna(rng, int(n)) for n in rng.integers(2, 60, 40)]
    tok = KmerTokenizer(3, 1)
    mem = build_sequence_corpus(seqs, tok, None, valid_frac=0.2, seed=5)
    disk = build_sequence_corpus(seqs, tok, tmp_path / "sc", valid_frac=0.2, seed=5)
    for split in ("train", "valid"):
        np.testing.assert_array_equal(getattr(mem, f"{split}_tokens"), getattr(disk, f"{split}_tokens"))
        np.testing.assert_array_equal(getattr(mem, f"{split}_starts"), getattr(disk, f"{split}_starts"))
    kept = [s for s in seqs if len(s) >= 3]
    assert mem.manifest["counts"]["docs"] == len(kept)
    first = mem.train_tokens[mem.train_starts[0] : mem.train_starts[1]]
    rec = mem.origins("train")[0, 1]
    assert first[0] == tok.bos_id and tok.decode(first) == seqs[rec]


# ---------------------------------------------------------------------------- LMBatches
def _rows_of(batches) -> np.ndarray:
    """Concatenate each row's x across the batches of an epoch → (B, bl)."""
    return np.concatenate([b["x"].numpy() for b in batches], axis=1)


@pytest.mark.parametrize("jitter", [False, True])
def test_lm_batches_shift_continuity_coverage(jitter):
    tokens = np.arange(1003, dtype=np.uint16) % 60000
    data = LMBatches(tokens, batch_size=4, bptt=9, jitter=jitter, seed=0)
    batches = list(data.batches(0))
    assert len(batches) == data.num_batches(0)
    for b in batches:
        assert b["x"].dtype == torch.int64 and b["x"].shape == b["y"].shape
        assert b["n_tokens"] == b["x"].numel()
    rows = _rows_of(batches)
    ys = np.concatenate([b["y"].numpy() for b in batches], axis=1)
    bl = (1003 - 1) // 4
    assert rows.shape == (4, bl)
    np.testing.assert_array_equal(rows, tokens[: 4 * bl].reshape(4, bl))  # rows contiguous, stream covered
    np.testing.assert_array_equal(ys, np.stack([tokens[r * bl + 1 : r * bl + bl + 1] for r in range(4)]))
    if not jitter:
        assert [b["x"].shape[1] for b in batches] == [9] * 27 + [7] and len(data) == 28


def test_lm_batches_jitter_is_deterministic_per_seed_and_epoch():
    tokens = np.arange(5000, dtype=np.uint16)
    a = LMBatches(tokens, 8, 70, seed=1)
    lens = lambda d, e: [b["x"].shape[1] for b in d.batches(e)]  # noqa: E731
    assert lens(a, 0) == lens(LMBatches(tokens, 8, 70, seed=1), 0)
    assert lens(a, 0) != lens(a, 1) or lens(a, 0) != lens(LMBatches(tokens, 8, 70, seed=2), 0)
    assert min(lens(a, 0)[:-1]) >= 5 and sum(lens(a, 0)) == a.bl


def test_lm_batches_shuffle_docs_keeps_documents_whole():
    lengths = [5, 17, 3, 30, 11, 9, 25]
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    tokens = np.concatenate([np.full(n, i + 1, dtype=np.uint8) for i, n in enumerate(lengths)])
    data = LMBatches(tokens, 2, 6, doc_starts=starts, shuffle_docs=True, jitter=False, seed=0)
    streams = []
    for epoch in (0, 1):
        rows = _rows_of(data.batches(epoch))
        stream = rows.ravel()
        # documents appear as whole runs of their id, in some order
        change = np.flatnonzero(np.diff(stream)) + 1
        runs = np.split(stream, change)
        for r in runs[1:-1]:
            assert len(r) == lengths[r[0] - 1]
        streams.append(stream)
    assert not np.array_equal(streams[0], streams[1])
    np.testing.assert_array_equal(_rows_of(data.batches(1)).ravel(), streams[1])  # deterministic


# ---------------------------------------------------------------------------- classification batches
def test_classification_batches_trim_cover_and_determinism():
    x = np.zeros((10, 8), dtype=np.uint16)
    x[:, 2:6] = np.arange(1, 41).reshape(10, 4) + 2
    x[0, 1] = 7
    y = np.arange(10) % 2
    data = ClassificationBatches(x, y, 4, shuffle=True, seed=3)
    e0 = list(data.batches(0))
    assert len(e0) == len(data) == 3
    # all-pad columns 0, 6, 7 are trimmed (column 1 only where row 0 is in the batch)
    assert all(b["x"].dtype == torch.int64 and b["x"].shape[1] in (4, 5) for b in e0)
    seen = np.concatenate([np.searchsorted(x[:, 2], b["x"][:, -4].numpy()) for b in e0])
    assert sorted(seen.tolist()) == list(range(10))  # each example once
    np.testing.assert_array_equal(np.concatenate([b["y"].numpy() for b in e0]), y[seen])
    assert sum(b["n_tokens"] for b in e0) == int(np.count_nonzero(x))
    again = list(ClassificationBatches(x, y, 4, shuffle=True, seed=3).batches(0))
    assert all(torch.equal(a["x"], b["x"]) for a, b in zip(e0, again, strict=True))
    assert len(list(ClassificationBatches(x, y, 4, drop_last=True).batches(0))) == 2


def test_array_batches_transform_gets_seeded_rng():
    x = np.arange(24, dtype=np.float32).reshape(6, 4)

    def flip(xb, rng):
        t = torch.from_numpy(xb.copy())
        return torch.where(torch.from_numpy(rng.random(len(xb)) < 0.5)[:, None], t.flip(1), t)

    a = [b["x"] for b in ArrayBatches(x, np.zeros(6), 3, seed=0, transform=flip).batches(2)]
    b = [b["x"] for b in ArrayBatches(x, np.zeros(6), 3, seed=0, transform=flip).batches(2)]
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert next(iter(ArrayBatches(x, np.zeros(6), 3).batches(0)))["y"].dtype == torch.float32


@given(st.lists(st.integers(1, 40), min_size=1, max_size=120), st.integers(1, 9), st.booleans(), st.booleans(),
       st.integers(0, 3), st.one_of(st.none(), st.integers(1, 150)))
@settings(max_examples=80, deadline=None)
def test_array_batches_with_lengths_group_and_trim(lengths, bs, shuffle, drop_last, seed, max_tokens):
    lengths = np.array(lengths)
    n, width = len(lengths), int(lengths.max())
    x = np.zeros((n, width), dtype=np.int64)
    for i, n_i in enumerate(lengths):
        x[i, :n_i] = i + 1  # row i holds its own id, then padding
    kw = dict(shuffle=shuffle, seed=seed, drop_last=drop_last, lengths=lengths, sortish=2, max_tokens=max_tokens)
    data = ArrayBatches(x, np.arange(n) % 2, bs, **kw)
    batches = list(data.batches(0))
    assert len(batches) == len(data) == data.num_batches(0)
    assert len(list(data.batches(1))) == data.num_batches(1)
    seen = [int(b["x"][r].max()) - 1 for b in batches for r in range(len(b["x"]))]
    assert len(set(seen)) == len(seen)  # no example twice
    if not drop_last:
        assert sorted(seen) == list(range(n))  # every example once
    for b in batches:
        ids = b["x"].max(dim=1).values.numpy() - 1
        assert b["x"].shape[1] == lengths[ids].max()  # cut to the longest member, nothing real cut
        np.testing.assert_array_equal((b["x"] > 0).sum(1).numpy(), lengths[ids])
        np.testing.assert_array_equal(b["y"].numpy(), ids % 2)
        assert 1 <= len(ids) <= bs
        if max_tokens is not None:
            assert len(ids) == 1 or b["x"].numel() <= max_tokens  # the token budget holds
    if not shuffle:
        assert seen == np.argsort(-lengths, kind="stable")[: len(seen)].tolist()  # longest first
    if max_tokens is None or max_tokens >= bs * width:  # a budget that never binds changes nothing
        plain = ArrayBatches(x, np.arange(n) % 2, bs, **{**kw, "max_tokens": None})
        assert all(torch.equal(a["x"], b["x"]) for a, b in zip(batches, plain.batches(0), strict=True))
    again = [b["x"] for b in ArrayBatches(x, np.arange(n) % 2, bs, **kw).batches(0)]
    assert all(torch.equal(a["x"], b) for a, b in zip(batches, again, strict=True))


def test_sortish_batches_hold_similar_lengths():
    lengths = np.random.default_rng(0).integers(100, 8000, 3200)
    ids = np.arange(len(lengths))[:, None]  # one column: the example's index

    def mean_spread(batch_lengths):
        data = ArrayBatches(ids, None, 32, seed=1, lengths=batch_lengths)
        return np.mean([np.ptp(lengths[b["x"][:, 0].numpy()]) for b in data.batches(0)])

    # Equal lengths leave the shuffled order as it is; real lengths group similar ones.
    assert mean_spread(np.ones(len(lengths), int)) > 5 * mean_spread(lengths)
