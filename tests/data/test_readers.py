"""Readers: FASTA, sequence-per-line, TSV/CSV and BED + genome; gzip by magic bytes, CRLF, errors."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genomic_ulmfit.data.readers import (
    Genome,
    fasta_id,
    file_stem,
    is_bgzf,
    open_binary,
    read_bed,
    read_fasta,
    read_sequence_lines,
    read_table,
)
from genomic_ulmfit.data.sequences import revcomp
from genomic_ulmfit.errors import InputError


def write(path, text: str, gz: bool = False):
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# ----------------------------------------------------------------------------- FASTA


def test_fasta_multiline_mixed_case_crlf(tmp_path):
    p = write(tmp_path / "x.fa", ">r1 some description\r\nACGTac\r\ngtNN\r\n\r\n>r2\r\nGGGG\r\n")
    recs = list(read_fasta(p, label=1, species="Human"))
    assert [r.id for r in recs] == ["r1", "r2"]
    assert recs[0].sequence == "ACGTACGTNN"
    assert recs[1].sequence == "GGGG"
    assert {r.label for r in recs} == {1} and {r.species for r in recs} == {"Human"}
    assert recs[0].source == str(p)


@pytest.mark.parametrize("name", ["plain.fa.gz", "hidden_gzip.fa"])
def test_gzip_detected_by_magic_bytes_not_name(tmp_path, name):
    gz = name == "hidden_gzip.fa"
    p = write(tmp_path / name, ">a\nACGT\n", gz=gz)
    assert [r.sequence for r in read_fasta(p, label=0)] == ["ACGT"]


def test_fasta_duplicate_ids_error_names_file_and_record(tmp_path):
    p = write(tmp_path / "d.fa", ">a\nACGT\n>b\nAC\n>a x\nGG\n")
    with pytest.raises(InputError, match=r"d\.fa: record 3 \(line 5\): duplicate id 'a' \(first at record 1; an id is the first word of its header\)"):
        list(read_fasta(p, label=1))


def test_fasta_invalid_character_message(tmp_path):
    p = write(tmp_path / "bad.fa", ">a\nACGT\n>b\nACXT\n")
    with pytest.raises(InputError) as err:
        list(read_fasta(p, label=1))
    msg = str(err.value)
    assert "bad.fa: record 2" in msg and "'X'" in msg and "position 3" in msg and "\n" not in msg


def test_fasta_iupac_masked_only_when_asked(tmp_path):
    p = write(tmp_path / "i.fa", ">a\nACRYT\n")
    with pytest.raises(InputError, match="--mask-iupac"):
        list(read_fasta(p, label=1))
    assert next(read_fasta(p, label=1, mask_iupac=True)).sequence == "ACNNT"


def test_fasta_min_length_and_empty_record(tmp_path):
    p = write(tmp_path / "s.fa", ">a\nACGTACGT\n>b\nACG\n")
    with pytest.raises(InputError, match="record 2.*shorter than the minimum 4"):
        list(read_fasta(p, label=1, min_length=4))
    e = write(tmp_path / "e.fa", ">a\nACGT\n>b\n>c\nAC\n")
    with pytest.raises(InputError, match="record 2.*empty sequence"):
        list(read_fasta(e, label=1))


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_fasta_empty_file(tmp_path, text):
    p = write(tmp_path / "empty.fa", text)
    with pytest.raises(InputError, match="empty.fa: empty file"):
        list(read_fasta(p, label=1))


def test_fasta_data_before_header(tmp_path):
    p = write(tmp_path / "n.fa", "ACGT\n>a\nAC\n")
    with pytest.raises(InputError, match="n.fa: line 1: sequence data before the first '>'"):
        list(read_fasta(p, label=1))


def test_truncated_gzip_is_one_line_error(tmp_path):
    data = gzip.compress((">a\n" + "ACGT" * 5000 + "\n").encode() * 20)
    p = tmp_path / "t.fa.gz"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        list(read_fasta(p, label=1))
    assert "t.fa.gz: truncated or corrupt gzip" in str(err.value) and "\n" not in str(err.value)


def test_fasta_id_rules():
    assert fasta_id("chr1:1-10 extra words") == "chr1:1-10"
    assert fasta_id("hg19_ct_UserTrack_3545_0 range=chr1:100-600 5'pad=0 strand=+") == "chr1:100-600"
    assert fasta_id("hg19_ct_UserTrack_3545_0 range=chr1:100-600 5'pad=0 strand=-") == "chr1:100-600(-)"
    assert fasta_id("   ") == ""
    assert file_stem("a/b.tsv.gz") == "b" and file_stem("x.fa") == "x" and file_stem("noext") == "noext"


@settings(max_examples=40, deadline=None)
@given(
    seqs=st.lists(st.text(alphabet="ACGTNacgtn", min_size=1, max_size=120), min_size=1, max_size=8),
    width=st.integers(1, 70),
    crlf=st.booleans(),
    gz=st.booleans(),
)
def test_fasta_roundtrip_property(tmp_path_factory, seqs, width, crlf, gz):
    nl = "\r\n" if crlf else "\n"
    text = "".join(
        f">s{i} d{nl}" + nl.join(s[j : j + width] for j in range(0, len(s), width)) + nl for i, s in enumerate(seqs)
    )
    p = write(tmp_path_factory.mktemp("fa") / "r.fa", text, gz=gz)
    recs = list(read_fasta(p, label=0))
    assert [r.sequence for r in recs] == [s.upper() for s in seqs]
    assert [r.id for r in recs] == [f"s{i}" for i in range(len(seqs))]


# ----------------------------------------------------------------------------- one sequence per line


def test_sequence_lines_ids_and_trailing_blank(tmp_path):
    p = write(tmp_path / "positive_samples", "ACGT\r\nacgn\n\n")
    with open(p, "rb") as fh:
        recs = list(read_sequence_lines(fh, name="pos", label=1, species="Dog", id_prefix="Dog:pos:"))
    assert [(r.id, r.sequence) for r in recs] == [("Dog:pos:1", "ACGT"), ("Dog:pos:2", "ACGN")]


def test_sequence_lines_blank_in_middle_and_bad_char(tmp_path):
    p = write(tmp_path / "a", "ACGT\n\nACGT\n")
    with open(p, "rb") as fh, pytest.raises(InputError, match="pos: line 2: empty sequence"):
        list(read_sequence_lines(fh, name="pos", label=1, species="x", id_prefix=""))
    q = write(tmp_path / "b", "ACGT\nAC-T\n")
    with open(q, "rb") as fh, pytest.raises(InputError, match="neg: line 2: invalid character"):
        list(read_sequence_lines(fh, name="neg", label=0, species="x", id_prefix=""))
    e = write(tmp_path / "c", "")
    with open(e, "rb") as fh, pytest.raises(InputError, match="empty file"):
        list(read_sequence_lines(fh, name="c", label=0, species="x", id_prefix=""))


# ----------------------------------------------------------------------------- tables


def test_tsv_columns_case_insensitive_and_optional_columns(tmp_path):
    p = write(tmp_path / "t.tsv.gz", "ID\tSequence\tLabel\tspecies\nx1\tacgt\t1\tMouse\nx2\tGGCC\t0.0\t\n", gz=True)
    recs = list(read_table(p, species="Human"))
    assert [(r.id, r.sequence, r.label, r.species) for r in recs] == [
        ("x1", "ACGT", 1, "Mouse"),
        ("x2", "GGCC", 0, "Human"),
    ]


def test_csv_by_extension_crlf_and_default_ids(tmp_path):
    p = write(tmp_path / "data.csv", "sequence,label\r\nACGT,1\r\nTTTT,0\r\n")
    recs = list(read_table(p))
    assert [r.id for r in recs] == ["data:2", "data:3"]
    assert [r.species for r in recs] == ["unknown", "unknown"]
    assert [r.label for r in recs] == [1, 0]


def test_table_errors(tmp_path):
    bad_label = write(tmp_path / "l.tsv", "sequence\tlabel\nACGT\t2\n")
    with pytest.raises(InputError, match=r"l\.tsv: line 2: label '2' is not 0 or 1"):
        list(read_table(bad_label))
    no_seq = write(tmp_path / "n.tsv", "seq\tlabel\nACGT\t1\n")
    with pytest.raises(InputError, match="no 'sequence' column"):
        list(read_table(no_seq))
    no_label = write(tmp_path / "m.tsv", "sequence\nACGT\n")
    with pytest.raises(InputError, match="no 'label' column"):
        list(read_table(no_label))
    assert next(read_table(no_label, require_label=False)).label == -1
    assert next(read_table(no_label, label=1)).label == 1
    ragged = write(tmp_path / "r.tsv", "sequence\tlabel\nACGT\t1\nACGT\n")
    with pytest.raises(InputError, match="line 3: expected 2 columns, found 1"):
        list(read_table(ragged))
    empty = write(tmp_path / "e.tsv", "")
    with pytest.raises(InputError, match="empty file"):
        list(read_table(empty))
    only_header = write(tmp_path / "h.tsv", "sequence\tlabel\n")
    with pytest.raises(InputError, match="no data rows"):
        list(read_table(only_header))


@pytest.mark.parametrize("name,text,match", [
    # csv read `"a<TAB>SEQ1<TAB>1\nb"` as one id field: two rows merged, SEQ1 lost, exit 0
    ("q.tsv", 'id\tsequence\tlabel\n"a\tACGT\t1\nb"\tGGCC\t0\nc\tTTAA\t1\n',
     r"q\.tsv: line 2: a quoted field runs on to line 3"),
    ("u.tsv", 'sequence\tlabel\nACGT\t1\n"ACGT\t1\nGGCC\t0\n', r"u\.tsv: line 3: a quoted field runs on"),
    # the last of two label columns used to win
    ("d.tsv", "sequence\tlabel\tLABEL\nACGT\t1\t0\n", r"d\.tsv: line 1: column 'label' appears 2 times"),
    ("h.tsv", "ACGTACGTACGTAC\t1\nGGCC\t0\n", "looks like data, not a header"),
    ("s.csv", "sequence;label\nACGT;1\n", "separated by semicolons, but this file is read as comma-separated"),
])
def test_table_errors_that_used_to_pass_or_mislead(tmp_path, name, text, match):
    with pytest.raises(InputError, match=match):
        list(read_table(write(tmp_path / name, text)))


def test_tables_that_are_fine(tmp_path):
    quoted = write(tmp_path / "ok.csv", 'sequence,label\n"ACGT","1"\n')
    assert [(r.sequence, r.label) for r in read_table(quoted)] == [("ACGT", 1)]
    other = write(tmp_path / "o.tsv", "sequence\tlabel\tnote\tnote\nACGT\t1\tx\ty\n")
    assert [r.label for r in read_table(other)] == [1]  # unused columns may repeat
    bom_quoted = tmp_path / "b.csv"
    bom_quoted.write_bytes(b'\xef\xbb\xbf"sequence","label"\nACGT,1\n')
    assert [r.sequence for r in read_table(bom_quoted)] == ["ACGT"]


def test_bom_dropped_from_fasta_and_sequence_lines(tmp_path):
    fa = tmp_path / "b.fa"
    fa.write_bytes(b"\xef\xbb\xbf>r1\nACGT\n")
    assert [(r.id, r.sequence) for r in read_fasta(fa)] == [("r1", "ACGT")]
    lines = tmp_path / "b.txt"
    lines.write_bytes(b"\xef\xbb\xbfACGT\nGGCC\n")
    with open_binary(lines) as fh:
        recs = list(read_sequence_lines(fh, name="b.txt", label=1, species="Human", id_prefix="x:"))
    assert [r.sequence for r in recs] == ["ACGT", "GGCC"]


def test_utf16_text_is_named(tmp_path):
    p = tmp_path / "u.tsv"
    p.write_bytes("sequence\tlabel\nACGT\t1\n".encode("utf-16"))
    with pytest.raises(InputError, match=r"u\.tsv: the file is UTF-16 text; save it as UTF-8"):
        list(read_table(p))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        open_binary(tmp_path / "nope.fa")
    with pytest.raises(InputError, match="is a folder"):
        open_binary(tmp_path)


# ----------------------------------------------------------------------------- BED + genome

CHR1 = "ACGTACGTAA" * 10  # 100 bp
CHR2 = "ggggccccTT" * 5  # 50 bp, soft-masked


@pytest.fixture(params=["plain", "gzip"])
def genome(tmp_path, request):
    text = f">chr1 first\n{CHR1[:60]}\n{CHR1[60:]}\n>chr2\n{CHR2}\n"
    name = "g.fa" if request.param == "plain" else "g.fa.gz"
    return write(tmp_path / name, text, gz=request.param == "gzip")


def test_bed_regions_strand_and_width(tmp_path, genome):
    bed = write(
        tmp_path / "r.bed",
        "track name=x\n# comment\nchr1\t0\t10\n"
        "chr1\t10\t20\tpeak2\t0\t-\nchr2\t0\t8\n",
    )
    recs = list(read_bed(bed, genome, label=1, species="Human"))
    assert [r.id for r in recs] == ["chr1:0-10", "peak2", "chr2:0-8"]
    assert recs[0].sequence == CHR1[0:10]
    assert recs[1].sequence == revcomp(CHR1[10:20])
    assert recs[2].sequence == "GGGGCCCC"
    wide = list(read_bed(bed, genome, label=1, width=6))
    assert wide[0].id == "chr1:2-8" and wide[0].sequence == CHR1[2:8]
    assert all(len(r.sequence) == 6 for r in wide)


def test_bed_errors(tmp_path, genome):
    unknown = write(tmp_path / "u.bed", "chrZ\t0\t10\n")
    with pytest.raises(InputError, match=r"u\.bed: line 1: chromosome 'chrZ' is not in genome"):
        list(read_bed(unknown, genome, label=1))
    outside = write(tmp_path / "o.bed", "chr2\t40\t60\n")
    with pytest.raises(InputError, match=r"o\.bed: line 1: region chr2:40-60 lies outside chr2 \(length 50\)") as err:
        list(read_bed(outside, genome, label=1))
    assert "another assembly" in str(err.value) and "--width" not in str(err.value)  # no --width was given
    centred = write(tmp_path / "c.bed", "chr2\t0\t4\n")
    with pytest.raises(InputError, match="lies outside chr2.*smaller --width"):
        list(read_bed(centred, genome, label=1, width=10))
    reversed_ = write(tmp_path / "b.bed", "chr1\t10\t5\n")
    with pytest.raises(InputError, match="need 0 <= start < end"):
        list(read_bed(reversed_, genome, label=1))
    strand = write(tmp_path / "st.bed", "chr1\t0\t10\tx\t0\t-1\n")
    with pytest.raises(InputError, match=r"st\.bed: line 1: strand '-1' in column 6 is not '\+', '-' or '\.'"):
        list(read_bed(strand, genome, label=1))
    assert next(read_bed(write(tmp_path / "dot.bed", "chr1\t0\t10\tx\t0\t.\n"), genome)).sequence == CHR1[:10]
    short = write(tmp_path / "s.bed", "chr1\t10\n")
    with pytest.raises(InputError, match="at least 3 columns"):
        list(read_bed(short, genome, label=1))


def test_genome_backends(tmp_path):
    plain = write(tmp_path / "p.fa", f">chr1\n{CHR1}\n")
    gz = write(tmp_path / "p2.fa.gz", f">chr1\n{CHR1}\n", gz=True)
    a, b = Genome(plain), Genome(gz)
    assert a._faidx is not None and b._mem is not None  # pyfaidx for plain, memory for plain gzip
    assert a.fetch("chr1", 5, 25) == b.fetch("chr1", 5, 25) == CHR1[5:25].encode()
    assert a.length("chr1") == b.length("chr1") == 100 and a.length("chrX") is None
    assert not is_bgzf(gz)
    a.close()


def test_genome_index_older_than_the_genome_is_rebuilt(tmp_path):
    # A stale .fai beside an edited genome cut the wrong bases (and wrong lengths) without an error.
    import os

    path = write(tmp_path / "g.fa", f">chr1\n{CHR1[:60]}\n{CHR1[60:]}\n")
    Genome(path).close()
    index = tmp_path / "g.fa.fai"
    assert index.exists()
    other = "TTGCA" * 30  # 150 bp, other line width
    write(path, f">chr1\n{other[:50]}\n{other[50:100]}\n{other[100:]}\n")
    os.utime(index, (1, 1))  # an index older than the genome, whatever the clock's resolution
    g = Genome(path)
    assert g.length("chr1") == 150
    assert g.fetch("chr1", 45, 55) == other[45:55].encode()
    g.close()


def test_genome_non_utf8_header_is_read(tmp_path):
    path = tmp_path / "g.fa.gz"
    path.write_bytes(gzip.compress(b">chr\xe91\nACGTACGT\n"))
    g = Genome(path)
    assert g.names() == ["chr\ufffd1"] and g.fetch("chr\ufffd1", 0, 4) == b"ACGT"


def test_real_fasta_files(shared_data):
    enh = list(read_fasta(shared_data / "ienhancer" / "ienhancer_cv_enhancer.fa.gz", label=1))
    assert len(enh) == 1484 and all(len(r.sequence) == 200 for r in enh)
    neg = list(read_fasta(shared_data / "vista" / "vista_human_hg19_neg.fa.gz", label=0))
    assert len(neg) == 1729 and len({r.id for r in neg}) == 1729  # UCSC range= ids are unique
    assert any("N" in r.sequence for r in neg)
    assert all(r.sequence == r.sequence.upper() for r in neg)
