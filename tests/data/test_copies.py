"""Genome k-mer copy numbers (data/copies.py): counts against brute force, the cached index, features."""

from __future__ import annotations

import gzip
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomic_ulmfit.data import copies
from genomic_ulmfit.data.copies import FEATURE_NAMES, GenomeCopies, copy_features, kmers_of
from genomic_ulmfit.data.sequences import canonical
from genomic_ulmfit.errors import ConfigError, InputError


def brute(seqs: list[str], k: int) -> Counter:
    """Canonical k-mer counts by hand; windows with anything but ACGT skipped; records separate."""
    out: Counter = Counter()
    for s in seqs:
        s = s.upper()
        out.update(canonical(s[i : i + k]) for i in range(len(s) - k + 1) if set(s[i : i + k]) <= set("ACGT"))
    return out


def decode(key: int, k: int) -> str:
    return "".join("ACGT"[(int(key) >> (2 * (k - 1 - j))) & 3] for j in range(k))


def write_fasta(path, records: dict[str, str], gz: bool = False) -> None:
    text = "".join(f">{name} some description\n" + "\n".join(s[i : i + 60] for i in range(0, len(s), 60)) + "\n"
                   for name, s in records.items())
    (gzip.open(path, "wt") if gz else open(path, "w")).write(text)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ACGTNacgt", min_size=0, max_size=60), st.integers(8, 12))
def test_canonical_kmers_match_brute_force_and_both_strands(seq, k):
    got = Counter(decode(x, k) for x in kmers_of(seq.encode(), k))
    assert got == brute([seq], k)
    rc = seq.upper().translate(str.maketrans("ACGTN", "TGCAN"))[::-1]
    assert sorted(kmers_of(rc.encode(), k)) == sorted(kmers_of(seq.encode(), k))


def random_dna(rng, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


@pytest.fixture
def genome(tmp_path):
    rng = np.random.default_rng(0)
    repeat = random_dna(rng, 40)
    recs = {"chr1": random_dna(rng, 300) + repeat + "NNNN" + random_dna(rng, 200) + repeat.lower(),
            "chr2": repeat + random_dna(rng, 150) + repeat[::-1].translate(str.maketrans("ACGT", "TGCA"))}
    path = tmp_path / "g.fa.gz"
    write_fasta(path, recs, gz=True)
    return path, recs, repeat


def test_index_counts_every_kmer_as_brute_force_does_across_blocks_and_records(genome, monkeypatch):
    path, recs, _ = genome
    monkeypatch.setattr(copies, "_BLOCK", 37)  # many blocks: k-mers across block ends must count once
    index = GenomeCopies.build([path], k=12, progress=False)
    expected = brute(list(recs.values()), 12)  # none spans two records
    assert {decode(key, 12): int(c) for key, c in zip(index.keys, index.counts, strict=True)} == expected
    assert np.all(np.diff(index.keys.astype(np.float64)) > 0)  # sorted, distinct
    assert index.sources[0]["path"].endswith("g.fa.gz") and len(index.sources[0]["sha256"]) == 64


def test_counts_of_and_features_subtract_the_own_copy(genome):
    path, recs, repeat = genome
    index = GenomeCopies.build([path], k=12, progress=False)
    single = recs["chr1"][:200]  # unique in the genome: its own copy only
    absent = random_dna(np.random.default_rng(7), 200)  # not in the genome at all
    inside = recs["chr1"][290:350]  # reaches into the repeat (4 copies, both strands)
    assert index.counts_of(single).min() == 1 and index.counts_of(absent).max() == 0
    assert index.counts_of(repeat).tolist() == [4] * (40 - 12 + 1)
    f = copy_features([single, absent, inside, "NNNN"], index)
    assert f.shape == (4, len(FEATURE_NAMES))
    assert np.array_equal(f[0], f[1])  # one copy (its own) = no copy
    assert np.array_equal(f[3], f[0])  # no k-mer free of N: a single-copy sequence
    share2 = FEATURE_NAMES.index("copies:share>=2")
    assert f[2, share2] > f[0, share2] and f[2, 0] > 0 == f[0, 0]
    assert np.isclose(np.exp(f[2, share2]) - 0.01, (index.counts_of(inside) >= 2).mean())


def test_cached_index_is_reused_and_rebuilt_when_the_genome_changes(genome, tmp_path):
    path, recs, _ = genome
    cache = tmp_path / "cache"
    a = GenomeCopies.cached([path], k=12, cache_dir=cache, progress=False)
    assert len(list(cache.glob("*.npz"))) == 1
    b = GenomeCopies.cached([path], k=12, cache_dir=cache, progress=False)
    assert b.digest == a.digest and np.array_equal(b.keys, a.keys) and np.array_equal(b.counts, a.counts)
    write_fasta(path, {**recs, "chr3": "ACGTACGTTTGACCA" * 3}, gz=True)  # same name, new contents
    c = GenomeCopies.cached([path], k=12, cache_dir=cache, progress=False)
    assert c.digest != a.digest and len(c.keys) > len(a.keys)
    assert GenomeCopies.cached([path], k=13, cache_dir=cache, progress=False).k == 13  # k is part of the key


def test_errors_are_one_line(genome, tmp_path):
    path, _, _ = genome
    for k in (7, 32, 12.5, True):
        with pytest.raises(ConfigError, match="from 8 to 31"):
            GenomeCopies.build([path], k=k, progress=False)
    with pytest.raises(InputError, match="not found"):
        GenomeCopies.cached([tmp_path / "missing.fa"], cache_dir=tmp_path)
    with pytest.raises(InputError, match="no genome FASTA"):
        GenomeCopies.build([], progress=False)
    short = tmp_path / "short.fa"
    write_fasta(short, {"a": "ACGTNACGT"})
    with pytest.raises(InputError, match="no 12-mer free of N"):
        GenomeCopies.build([short], k=12, progress=False)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an index")
    with pytest.raises(InputError, match="not a readable k-mer copy index"):
        GenomeCopies.load(bad)
    with pytest.raises(InputError, match="is a directory"):
        GenomeCopies.build([tmp_path], progress=False)
    with pytest.raises(InputError, match="the same contents as"):  # every k-mer would count twice
        GenomeCopies.build([path, path], k=12, progress=False)


def test_a_cut_cache_file_is_rebuilt_and_a_changed_genome_refused_before_any_build(genome, tmp_path, monkeypatch):
    path, recs, _ = genome
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    copies._LOADED.clear()
    first = copies.model_index("kmer", [str(path)], 12, None)
    assert copies.model_index("gkm", [str(path)], 12, first.digest) is first  # models share one index in memory
    (cached,) = (tmp_path / "xdg" / "genomic-ulmfit" / "copies").glob("*.npz")
    cached.write_bytes(cached.read_bytes()[:300])  # a cut file, as a full disk or a kill leaves it
    copies._LOADED.clear()
    again = copies.model_index("kmer", [str(path)], 12, first.digest)
    assert np.array_equal(again.keys, first.keys) and np.array_equal(again.counts, first.counts)
    write_fasta(path, {**recs, "chr9": "ACGT" * 20}, gz=True)
    built = []
    monkeypatch.setattr(GenomeCopies, "build", classmethod(lambda *a, **k: built.append(1)))
    with pytest.raises(InputError, match="not the ones this model was trained with"):
        copies.model_index("kmer", [str(path)], 12, first.digest)
    assert built == [] and len(list(cached.parent.glob("*.npz"))) == 1
