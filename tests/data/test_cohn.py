"""Cohn et al. layout: folders, archives (with/without a top folder), peaks, safe extraction."""

from __future__ import annotations

import io
import tarfile
import zlib

import pytest

from genomic_ulmfit.data.cohn import find_species_dirs, read_cohn, safe_extract
from genomic_ulmfit.errors import InputError

LAYOUT = {
    "Human": ("ACGTACGTAC\nacgtnnACGT\n", "TTTTGGGGCC\r\nCCCCAAAATT\r\nGGGGGGGGGG\r\n"),
    "Dog": ("AAAACCCCGG\n", "CCGGTTAAGG\n"),
}


def make_layout(root, layout=LAYOUT, peaks: bool = False):
    """Write species folders with positive_samples / negative_samples under ``root``."""
    for sp, (pos, neg) in layout.items():
        d = root / sp
        d.mkdir(parents=True)
        (d / "positive_samples").write_text(pos)
        (d / "negative_samples").write_text(neg)
        if peaks:
            (d / "peaks_fasta_files").mkdir()
            (d / "peaks_fasta_files" / f"{sp}_peaks.fa").write_text(">p1\nACGTTT\n")
    return root


def make_tgz(src_root, tgz, arcname):
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src_root, arcname=arcname)
    return tgz


def summary(records):
    return [(r.id, r.sequence, r.label, r.species) for r in records]


def test_read_folder_order_ids_labels(tmp_path):
    root = make_layout(tmp_path / "data")
    recs = list(read_cohn(root))
    assert [r.id for r in recs] == [
        "Dog:pos:1", "Dog:neg:1",
        "Human:pos:1", "Human:pos:2", "Human:neg:1", "Human:neg:2", "Human:neg:3",
    ]
    assert recs[3].sequence == "ACGTNNACGT" and recs[3].label == 1
    assert recs[4].sequence == "TTTTGGGGCC" and recs[4].label == 0  # CRLF handled
    assert recs[0].source.endswith("Dog/positive_samples")


@pytest.mark.parametrize("arcname", ["Enhancers_vs_negative", "."])
def test_archive_equals_folder(tmp_path, arcname):
    root = make_layout(tmp_path / "Enhancers_vs_negative")
    tgz = make_tgz(root, tmp_path / "E.tgz", arcname)
    assert summary(read_cohn(tgz)) == summary(read_cohn(root))
    assert summary(read_cohn(tmp_path)) == summary(read_cohn(root))  # one top-level folder above
    (tmp_path / "__MACOSX" / "Enhancers_vs_negative").mkdir(parents=True)  # unzipped on a Mac
    assert summary(read_cohn(tmp_path)) == summary(read_cohn(root))


def test_species_filter_and_unknown_species(tmp_path):
    root = make_layout(tmp_path / "d")
    assert {r.species for r in read_cohn(root, species=["Human"])} == {"Human"}
    tgz = make_tgz(root, tmp_path / "d.tgz", "d")
    assert {r.species for r in read_cohn(tgz, species=["Dog"])} == {"Dog"}
    for source in (root, tgz):  # the archive lists every species too, not only the ones asked for
        with pytest.raises(InputError, match="species Cat not found; available: Dog, Human"):
            list(read_cohn(source, species=["Cat"]))
        with pytest.raises(InputError, match="species Cat not found; available: Dog, Human"):
            list(read_cohn(source, species=["Human", "Cat"]))


def test_missing_sample_file(tmp_path):
    root = make_layout(tmp_path / "d")
    (root / "Dog" / "negative_samples").unlink()
    with pytest.raises(InputError, match="'Dog' has no negative_samples"):
        find_species_dirs(root)
    tgz = make_tgz(root, tmp_path / "d.tgz", "d")
    with pytest.raises(InputError, match="'Dog' has no negative_samples member"):
        list(read_cohn(tgz))


def test_not_a_layout(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(InputError, match="no species folders"):
        list(read_cohn(tmp_path / "x"))
    f = tmp_path / "f.txt"
    f.write_text("hello")
    with pytest.raises(InputError, match="not a folder or a tar archive"):
        list(read_cohn(f))


def test_bad_sequence_in_archive_names_member_and_line(tmp_path):
    layout = {"Human": ("ACGT\nACGU\n", "ACGT\n")}
    root = make_layout(tmp_path / "d", layout)
    tgz = make_tgz(root, tmp_path / "d.tgz", "d")
    with pytest.raises(InputError, match=r"d\.tgz!d/Human/positive_samples: line 2: invalid character"):
        list(read_cohn(tgz))


def test_peaks_ignored_unless_asked(tmp_path):
    root = make_layout(tmp_path / "d", peaks=True)
    assert not any(":peak:" in r.id for r in read_cohn(root))
    peaks = [r for r in read_cohn(root, include_peaks=True) if ":peak:" in r.id]
    assert sorted(r.id for r in peaks) == ["Dog:peak:p1", "Human:peak:p1"]
    assert all(r.label == 1 for r in peaks)
    tgz = make_tgz(root, tmp_path / "d.tgz", "d")
    assert sorted(r.id for r in read_cohn(tgz, include_peaks=True) if ":peak:" in r.id) == ["Dog:peak:p1", "Human:peak:p1"]


def test_safe_extract_roundtrip(tmp_path):
    root = make_layout(tmp_path / "src" / "Enhancers_vs_negative", peaks=True)
    (root / "README").write_text("not part of the layout")
    tgz = make_tgz(root, tmp_path / "E.tgz", "Enhancers_vs_negative")
    out = safe_extract(tgz, tmp_path / "out", include_peaks=False)
    assert out == tmp_path / "out" / "Enhancers_vs_negative"
    assert summary(read_cohn(out)) == summary(read_cohn(root))
    assert not (out / "README").exists() and not (out / "Human" / "peaks_fasta_files" / "Human_peaks.fa").exists()


def _evil_tar(path, kind):
    with tarfile.open(path, "w:gz") as tar:
        good = tarfile.TarInfo("d/Human/positive_samples")
        good.size = 5
        tar.addfile(good, io.BytesIO(b"ACGT\n"))
        if kind == "traversal":
            m = tarfile.TarInfo("../evil")
            m.size = 4
            tar.addfile(m, io.BytesIO(b"evil"))
        elif kind == "absolute":
            m = tarfile.TarInfo("/tmp/evil_abs")
            m.size = 4
            tar.addfile(m, io.BytesIO(b"evil"))
        else:
            m = tarfile.TarInfo("d/Human/negative_samples")
            m.type = tarfile.SYMTYPE
            m.linkname = "/etc/passwd"
            tar.addfile(m)
    return path


@pytest.mark.parametrize("kind", ["traversal", "absolute", "symlink"])
def test_malicious_archives_refused(tmp_path, kind):
    tgz = _evil_tar(tmp_path / f"{kind}.tgz", kind)
    out = tmp_path / "out"
    with pytest.raises(InputError, match="unsafe"):
        safe_extract(tgz, out)
    assert not out.exists() or not any(out.rglob("*"))  # nothing written
    assert not (tmp_path / "evil").exists()
    with pytest.raises(InputError, match="unsafe"):
        list(read_cohn(tgz))


def test_archive_without_sample_files(tmp_path):
    tgz = tmp_path / "other.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        info = tarfile.TarInfo("d/README")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    expected = (
        r"other\.tgz: no <Species>/positive_samples and negative_samples members found; "
        r"is this Enhancers_vs_negative\.tgz\?"
    )
    with pytest.raises(InputError, match=expected):
        list(read_cohn(tgz))
    with pytest.raises(InputError, match=expected):
        safe_extract(tgz, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_archive(tmp_path):
    root = make_layout(tmp_path / "d")
    tgz = make_tgz(root, tmp_path / "d.tgz", "d")
    data = tgz.read_bytes()
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(data[: len(data) - 40])
    with pytest.raises(InputError) as err:
        list(read_cohn(bad))
    assert "bad.tgz" in str(err.value) and "\n" not in str(err.value)


def test_truncated_plain_tar_at_a_member_boundary(tmp_path):
    # tarfile reads a plain tar cut after a whole member without complaint: a species went missing.
    root = make_layout(tmp_path / "d")
    tar_path = tmp_path / "d.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(root, arcname="d")
    assert len(list(read_cohn(tar_path))) == 7
    with tarfile.open(tar_path) as tar:
        cut = tar.getmember("d/Human").offset  # Dog's two files come first; cut before Human
    bad = tmp_path / "cut.tar"
    bad.write_bytes(tar_path.read_bytes()[:cut])
    with pytest.raises(InputError, match=r"cut\.tar: the archive ends early, so members may be missing"):
        list(read_cohn(bad))
    with pytest.raises(InputError, match="ends early"):
        safe_extract(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # the same cut inside a gzip stream that stops there (a .tgz download cut short): tarfile reads
    # the decompressed bytes up to the cut as a whole archive; the missing end-of-stream tells
    deflate = zlib.compressobj(wbits=31)
    cut_tgz = tmp_path / "cut.tgz"
    cut_tgz.write_bytes(deflate.compress(bad.read_bytes()) + deflate.flush(zlib.Z_SYNC_FLUSH))
    with pytest.raises(InputError, match=r"cut\.tgz: the archive ends early.*end-of-stream"):
        list(read_cohn(cut_tgz))
    with pytest.raises(InputError, match="end-of-stream"):
        safe_extract(cut_tgz, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_species_may_be_one_name(tmp_path):
    root = make_layout(tmp_path / "d")
    assert {r.species for r in read_cohn(root, species="Dog")} == {"Dog"}


@pytest.mark.parametrize("form", ["folder", "tgz"])
def test_sample_files_with_a_suffix_are_named_not_skipped(tmp_path, form):
    root = make_layout(tmp_path / "d")
    for f in ("positive_samples", "negative_samples"):
        (root / "Dog" / f).rename(root / "Dog" / f"{f}.txt")
    src = root if form == "folder" else make_tgz(root, tmp_path / "d.tgz", "d")
    with pytest.raises(InputError, match=r"Dog/(positive|negative)_samples\.txt: the Cohn layout names this file"):
        list(read_cohn(src))
    if form == "tgz":
        with pytest.raises(InputError, match="the Cohn layout names this file"):
            safe_extract(src, tmp_path / "out")
    (root / "Dog" / "positive_samples.txt").rename(root / "Dog" / "positive_samples")
    (root / "Dog" / "negative_samples.txt").rename(root / "Dog" / "negative_samples")
    (root / "Dog" / "positive_samples.bak").write_text("ACGT\n")  # beside the real file: ignored
    src = root if form == "folder" else make_tgz(root, tmp_path / "d2.tgz", "d")
    assert {r.species for r in read_cohn(src)} == {"Dog", "Human"}


@pytest.mark.parametrize("form", ["folder", "tgz"])
def test_appledouble_peaks_files_are_skipped(tmp_path, form):
    # macOS tar puts a binary ._NAME beside every file; it is no FASTA and must not break the import
    root = make_layout(tmp_path / "d", peaks=True)
    (root / "Dog" / "peaks_fasta_files" / "._Dog_peaks.fa").write_bytes(b"\x00\x05\x16\x07Mac OS X")
    src = root if form == "folder" else make_tgz(root, tmp_path / "d.tgz", "d")
    peaks = [r.id for r in read_cohn(src, include_peaks=True) if ":peak:" in r.id]
    assert sorted(peaks) == ["Dog:peak:p1", "Human:peak:p1"]


@pytest.mark.parametrize("mode", ["w:bz2", "w:xz"])
def test_truncated_bz2_and_xz_archives_are_refused(tmp_path, mode):
    root = make_layout(tmp_path / "d")
    whole = tmp_path / "d.tar.x"
    with tarfile.open(whole, mode) as tar:
        tar.add(root, arcname="d")
    assert len(list(read_cohn(whole))) == 7
    bad = tmp_path / "bad.tar.x"
    bad.write_bytes(whole.read_bytes()[:-20])
    with pytest.raises(InputError, match="bad.tar.x"):
        list(read_cohn(bad))


@pytest.mark.parametrize("form", ["folder", "tgz"])
def test_a_peaks_file_of_no_species_folder_is_named_not_made_a_species(tmp_path, form):
    root = make_layout(tmp_path / "d")
    (root / "peaks_fasta_files").mkdir()
    (root / "peaks_fasta_files" / "Human_peaks.fa").write_text(">p1\nACGTTT\n")
    assert [r.species for r in read_cohn(root, include_peaks=True) if ":peak:" in r.id] == ["Human"]
    (root / "peaks_fasta_files" / "Canis_familiaris.fa").write_text(">p2\nACGTTT\n")
    src = root if form == "folder" else make_tgz(root, tmp_path / "d.tgz", "d")
    with pytest.raises(InputError, match=r"Canis_familiaris\.fa: no species folder matches.*'Canis'.*Dog, Human"):
        list(read_cohn(src, include_peaks=True))
