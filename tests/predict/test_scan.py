"""Genome scanning: windows, region merging and scan_fasta's two outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomic_ulmfit.errors import InputError
from genomic_ulmfit.models.base import load_model
from genomic_ulmfit.models.kmer import KmerLogistic
from genomic_ulmfit.predict.scan import merge_regions, scan_fasta, windows
from toy import toy_dna


# ----------------------------------------------------------------------------- windows
def test_windows_cover_the_tail():
    seq = toy_dna(1, 1234, seed=0)[0]
    got = list(windows(seq, 500, 200))
    assert [s for s, _ in got] == [0, 200, 400, 600, 734]
    assert all(w == seq[s : s + 500] for s, w in got)
    assert got[-1][0] + 500 == len(seq)
    # An exact fit adds no extra window.
    assert [s for s, _ in windows(seq[:900], 500, 200)] == [0, 200, 400]


def test_windows_skip_n_rich_windows():
    seq = list(toy_dna(1, 1000, seed=1)[0])
    seq[100:160] = "N" * 60  # 60 N: 12 % of a 500 bp window
    seq = "".join(seq)
    starts = [s for s, _ in windows(seq, 500, 100, max_n=0.1)]
    assert starts == [200, 300, 400, 500]  # windows 0 and 100 hold the N run
    assert [s for s, _ in windows(seq, 500, 100, max_n=0.12)] == [0, 100, 200, 300, 400, 500]
    lower = seq.replace("N", "n")
    assert [s for s, _ in windows(lower, 500, 100, max_n=0.1)] == starts


def test_windows_of_a_short_sequence():
    assert list(windows("ACGT" * 10, 50, 10)) == []
    assert [s for s, _ in windows("ACGT" * 10, 40, 10)] == [0]


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 400), width=st.integers(1, 120), step=st.integers(1, 130))
def test_windows_tile_the_sequence(n, width, step):
    seq = "A" * n
    starts = [s for s, w in windows(seq, width, step) if len(w) == width]
    if n < width:
        assert starts == []
        return
    assert starts[0] == 0 and starts[-1] == n - width
    assert starts == sorted(set(starts))
    gaps = np.diff(starts)
    assert (gaps <= step).all() and (gaps[:-1] == step).all()
    if step <= width:  # then every base is in some window
        covered = np.zeros(n, bool)
        for s in starts:
            covered[s : s + width] = True
        assert covered.all()


# ----------------------------------------------------------------------------- merge_regions
def test_merge_regions():
    starts = np.array([0, 100, 200, 300, 400, 700, 800])
    scores = np.array([0.9, 0.6, 0.2, 0.2, 0.7, 0.8, 0.55])
    regions = merge_regions("chr1", starts, scores, 200, 0.5)
    assert regions == [("chr1", 0, 300, 0.9), ("chr1", 400, 600, 0.7), ("chr1", 700, 1000, 0.8)]
    # Adjacent windows (end == next start) merge; a gap does not.
    assert merge_regions("c", np.array([0, 200, 401]), np.array([0.6, 0.7, 0.9]), 200, 0.5) == [
        ("c", 0, 400, 0.7), ("c", 401, 601, 0.9)
    ]
    assert merge_regions("c", starts, scores, 200, 0.95) == []


# ----------------------------------------------------------------------------- scan_fasta
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A k-mer model that scores GC-rich sequence high."""
    rng = np.random.default_rng(0)
    at = ["".join(rng.choice(list("AT"), 200, p=[0.5, 0.5]) if i % 2 else rng.choice(list("ACGT"), 200)) for i in range(60)]
    gc = ["".join(rng.choice(list("GC"), 200)) for _ in range(60)]
    model = KmerLogistic(k_max=2, Cs=(1e-2,), cv=2).fit(at + gc, np.array([0] * 60 + [1] * 60))
    out = tmp_path_factory.mktemp("run")
    model.save(out)
    return out


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    rng = np.random.default_rng(1)
    at = lambda n: "".join(rng.choice(list("AT"), n))  # noqa: E731
    gc = lambda n: "".join(rng.choice(list("GC"), n))  # noqa: E731
    records = {
        "chrA": at(600) + gc(500) + at(700) + gc(300) + at(130),  # 2230 bp, two GC islands
        "chrB": at(150),  # shorter than a window: no windows
        "chrC": at(400) + "N" * 300 + at(400),  # the N run is skipped
    }
    path = tmp_path_factory.mktemp("genome") / "genome.fa"
    path.write_text("".join(f">{name} test record\n{seq}\n" for name, seq in records.items()))
    return path, records


def test_scan_fasta_writes_windows_and_regions(run_dir, genome, tmp_path):
    path, records = genome
    out = tmp_path / "scan.tsv"
    summary = scan_fasta(run_dir, path, out, width=200, step=100, batch_size=4, threshold=0.5, progress=False)
    win = pd.read_csv(out, sep="\t")
    assert list(win.columns) == ["chrom", "start", "end", "score"]
    assert summary["records"] == 3 and summary["windows"] == len(win)
    assert set(win["chrom"]) == {"chrA", "chrC"}
    assert ((win["end"] - win["start"]) == 200).all()
    model = load_model(run_dir)
    for chrom, sub in win.groupby("chrom"):
        seq = records[chrom]
        expected = [s for s, _ in windows(seq, 200, 100, 0.1)]
        assert sub["start"].tolist() == expected
        assert sub["end"].max() == len(seq)  # the tail is covered
        np.testing.assert_allclose(
            sub["score"], model.predict_proba([seq[s : s + 200] for s in expected]), rtol=0, atol=5e-7
        )
    c = win[win["chrom"] == "chrC"]
    assert c["start"].tolist() == [0, 100, 200, 700, 800, 900]  # windows with > 10 % N are skipped

    regions = pd.read_csv(summary["regions_bed"], sep="\t", header=None, names=["chrom", "start", "end", "name", "score"])
    assert summary["regions"] == len(regions) and str(out) + ".regions.bed" == summary["regions_bed"]
    expected_regions = []
    for chrom, sub in win.groupby("chrom", sort=False):
        expected_regions += merge_regions(chrom, sub["start"].to_numpy(), sub["score"].to_numpy(), 200, 0.5)
    assert [(c, a, b) for c, a, b, _ in expected_regions] == list(
        zip(regions["chrom"], regions["start"], regions["end"])
    )
    assert regions["name"].tolist() == [f"region{i + 1}" for i in range(len(regions))]
    # BED scores are integers 0-1000: 1000 x the region's best window score
    assert regions["score"].tolist() == [round(1000 * m) for *_, m in expected_regions]
    assert summary["short_records"] == 1  # chrB is shorter than a window
    assert summary["skipped_n"] == 10 - 6 and (summary["width"], summary["step"]) == (200, 100)
    assert summary["called_fraction"] == pytest.approx((win["score"] >= 0.5).mean())
    assert summary["top5_score"] == pytest.approx(np.quantile(win["score"], 0.95), abs=1e-6)
    assert summary["top1_score"] == pytest.approx(np.quantile(win["score"], 0.99), abs=1e-6)
    # The two GC islands of chrA are found, each inside its region.
    a = regions[regions["chrom"] == "chrA"]
    assert len(a) == 2
    assert a["start"].iloc[0] <= 600 and a["end"].iloc[0] >= 1100
    assert a["start"].iloc[1] <= 1800 and a["end"].iloc[1] >= 2100


def test_scan_fasta_rejects_bad_windows(run_dir, genome, tmp_path):
    with pytest.raises(InputError, match="width and step must be positive"):
        scan_fasta(run_dir, genome[0], tmp_path / "x.tsv", width=0, progress=False)
    with pytest.raises(InputError, match="no model.json"):
        scan_fasta(tmp_path, genome[0], tmp_path / "x.tsv", progress=False)


def test_scan_fasta_gzips_a_gz_output_and_checks_its_options(run_dir, genome, tmp_path):
    import gzip
    import json

    path, _ = genome
    plain = scan_fasta(run_dir, path, tmp_path / "a.tsv", width=200, step=100, progress=False)
    gz = scan_fasta(run_dir, path, tmp_path / "a2.tsv.gz", width=200, step=100, progress=False)
    assert gzip.decompress((tmp_path / "a2.tsv.gz").read_bytes()) == (tmp_path / "a.tsv").read_bytes()
    scan_fasta(run_dir, path, tmp_path / "a3.tsv.gz", width=200, step=100, progress=False)
    assert (tmp_path / "a3.tsv.gz").read_bytes() == (tmp_path / "a2.tsv.gz").read_bytes()  # no timestamp inside
    assert gz["regions_bed"] == str(tmp_path / "a2.tsv.regions.bed")
    assert Path(gz["regions_bed"]).read_text() == Path(plain["regions_bed"]).read_text()
    for kw, match in (({"threshold": 2.0}, "threshold 2.0 is not a score"), ({"max_n": 1.0}, "max_n 1.0")):
        with pytest.raises(InputError, match=match):
            scan_fasta(run_dir, path, tmp_path / "b.tsv", progress=False, **kw)
    # Without --width: the median training length recorded in run.json, else 500; step half of it.
    assert scan_fasta(run_dir, path, tmp_path / "c.tsv", progress=False)["width"] == 500
    (run_dir / "run.json").write_text(json.dumps({"data": {"length": {"min": 150, "median": 300, "max": 400}}}))
    try:
        summary = scan_fasta(run_dir, path, tmp_path / "d.tsv", progress=False)
    finally:
        (run_dir / "run.json").unlink()
    assert (summary["width"], summary["step"]) == (300, 150)
