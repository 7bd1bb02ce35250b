"""Dataset table: import from sources, ids, Parquet + sidecar storage, hash, raw-file reading."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from genomic_ulmfit.data.dataset import (
    COLUMNS,
    Source,
    dataset_hash,
    import_sources,
    load_dataset,
    no_base_note,
    read_sidecar,
    read_table_or_dataset,
    records_to_frame,
    save_dataset,
    sidecar_path,
)
from genomic_ulmfit.data.readers import Record
from genomic_ulmfit.errors import ConfigError, InputError


@pytest.fixture
def files(tmp_path):
    (tmp_path / "pos.fa").write_text(">a\nACGTACGT\n>b\nGGGGCCCC\n")
    (tmp_path / "neg.fa").write_text(">a\nTTTTAAAA\n>c\nCACACACA\n")
    (tmp_path / "t.tsv").write_text("sequence\tlabel\nACGTTGCA\t1\nAAAACCCC\t0\n")
    for sp in ("Human", "Dog"):
        d = tmp_path / "cohn" / sp
        d.mkdir(parents=True)
        (d / "positive_samples").write_text("ACGTACGTAA\n")
        (d / "negative_samples").write_text("TTGGCCAATT\nGGGGAAAATT\n")
    return tmp_path


def test_import_several_sources(files):
    df = import_sources([
        Source("cohn", files / "cohn"),
        Source("fasta", files / "pos.fa", negative=files / "neg.fa", species="Mouse"),
        Source("tsv", files / "t.tsv", species="Cat"),
    ])
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 6 + 4 + 2
    assert df["label"].dtype == np.int8 and set(df["label"]) == {0, 1}
    assert df["id"].is_unique
    # FASTA ids 'a' collide between pos.fa and neg.fa: species prefix, then the file stem.
    assert {"Mouse:pos:a", "Mouse:neg:a", "Mouse:b", "Mouse:c"} <= set(df["id"])
    assert "Human:pos:1" in set(df["id"])  # already unique ids untouched
    assert set(df["split"]) == {""}
    assert df.loc[df["species"] == "Cat", "source"].iloc[0] == str(files / "t.tsv")
    assert df.groupby("species")["label"].sum().to_dict() == {"Cat": 1, "Dog": 1, "Human": 1, "Mouse": 2}


def test_cohn_species_filter_source(files):
    df = import_sources([Source("cohn", files / "cohn", species="Dog")])
    assert set(df["species"]) == {"Dog"} and len(df) == 3


def test_duplicate_ids_within_one_file_is_an_error(tmp_path):
    (tmp_path / "d.tsv").write_text("id\tsequence\tlabel\nx\tACGT\t1\nx\tACGA\t0\n")
    with pytest.raises(InputError, match="duplicate id 'x'"):
        import_sources([Source("tsv", tmp_path / "d.tsv")])


def test_ids_unique_across_files_of_same_species(tmp_path):
    (tmp_path / "a.fa").write_text(">x\nACGT\n")
    (tmp_path / "b.fa").write_text(">x\nGGGG\n")
    df = import_sources([Source("fasta", tmp_path / "a.fa", label=1), Source("fasta", tmp_path / "b.fa", label=0)])
    assert df["id"].tolist() == ["unknown:a:x", "unknown:b:x"]


def test_source_validation():
    with pytest.raises(ConfigError, match="kind 'xml'"):
        Source("xml", "x")
    with pytest.raises(ConfigError, match="needs a label"):
        Source("fasta", "x.fa")
    with pytest.raises(ConfigError, match="genome"):
        Source("bed", "x.bed", label=1)
    with pytest.raises(ConfigError, match="not 0 or 1"):
        Source("fasta", "x.fa", label=3)
    with pytest.raises(ConfigError, match="no data sources"):
        import_sources([])


def test_save_load_roundtrip_and_sidecar(files, tmp_path):
    src = [Source("fasta", files / "pos.fa", negative=files / "neg.fa", species="Mouse")]
    df = import_sources(src)
    df.loc[0, "split"] = "train"
    out = tmp_path / "o" / "ds.parquet"
    save_dataset(df, out, sources=src)
    back = load_dataset(out)
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    assert back["label"].dtype == np.int8
    meta = read_sidecar(out)
    assert sidecar_path(out).name == "ds.parquet.json"
    assert meta["hash"] == dataset_hash(df) and meta["n_rows"] == 4
    assert meta["counts"]["species"] == {"Mouse": {"0": 2, "1": 2}}
    assert meta["counts"]["split"] == {"train": 1, "unsplit": 3}
    assert meta["sources"][0]["kind"] == "fasta" and meta["sources"][0]["negative"].endswith("neg.fa")
    assert "version" in meta and "created" in meta
    assert sorted(p.name for p in out.parent.iterdir()) == ["ds.parquet", "ds.parquet.json"]  # no temp files


def test_source_to_dict_keeps_label_zero(tmp_path):
    d = Source("bed", tmp_path / "r.bed", label=0, genome=tmp_path / "g.fa").to_dict()
    assert d == {"kind": "bed", "path": str(tmp_path / "r.bed"), "label": 0, "genome": str(tmp_path / "g.fa")}


def test_fold_column_roundtrip(tmp_path):
    df = records_to_frame([Record("a", "ACGT", 1, "x", "f"), Record("b", "GGGG", 0, "x", "f")])
    df["fold"] = np.array([0, -1], dtype=np.int16)
    save_dataset(df, tmp_path / "f.parquet")
    back = load_dataset(tmp_path / "f.parquet")
    assert back["fold"].dtype == np.int16 and back["fold"].tolist() == [0, -1]


def test_no_base_note_counts_sequences_without_a_base_and_names_the_first():
    df = pd.DataFrame({"id": ["a", "b", "c", "d"], "sequence": ["ACGN", "NNNN", "TTTT", "NNNNN"]})
    assert no_base_note(df) == "2 sequence(s) have no A/C/G/T base (first: b)"
    df["source"] = ["x.fa", "y.fa", "x.fa", "z.fa"]
    assert no_base_note(df) == "2 sequence(s) have no A/C/G/T base (first: b from y.fa)"
    assert no_base_note(df[df["id"].isin(["a", "c"])]) is None


def test_dataset_hash_content_only():
    df = records_to_frame([Record("a", "ACGT", 1, "x", "f"), Record("b", "GGGG", 0, "x", "f")])
    h = dataset_hash(df)
    other = df.copy()
    other["id"] = ["p", "q"]
    other["split"] = ["train", "test"]
    assert dataset_hash(other) == h
    flipped = df.copy()
    flipped["label"] = np.array([0, 0], dtype=np.int8)
    assert dataset_hash(flipped) != h
    assert dataset_hash(df.iloc[::-1]) != h  # row order matters
    assert len(h) == 64


def test_load_errors(tmp_path):
    with pytest.raises(InputError, match="dataset not found"):
        load_dataset(tmp_path / "none.parquet")
    (tmp_path / "x.parquet").write_text("sequence\tlabel\n")
    with pytest.raises(InputError, match="not a Parquet dataset"):
        load_dataset(tmp_path / "x.parquet")
    pd.DataFrame({"sequence": ["ACGT"]}).to_parquet(tmp_path / "y.parquet")
    with pytest.raises(InputError, match=r"not a genomic-ulmfit dataset \(missing column\(s\) id, species, label"):
        load_dataset(tmp_path / "y.parquet")
    bad = records_to_frame([Record("a", "ACGT", 1, "x", "f")])
    bad["label"] = np.array([5], dtype=np.int8)
    bad.to_parquet(tmp_path / "z.parquet")
    with pytest.raises(InputError, match="label 5 is not 0 or 1"):
        load_dataset(tmp_path / "z.parquet")


def test_read_table_or_dataset_sniffs_content(files, tmp_path):
    df = import_sources([Source("tsv", files / "t.tsv")])
    save_dataset(df, tmp_path / "d.parquet")
    assert read_table_or_dataset(tmp_path / "d.parquet")["sequence"].tolist() == df["sequence"].tolist()
    tsv = read_table_or_dataset(files / "t.tsv", species="Human")
    assert tsv["species"].tolist() == ["Human", "Human"] and tsv["label"].tolist() == [1, 0]
    gz = tmp_path / "fasta_without_extension"
    gz.write_bytes(gzip.compress(b">q\nACGT\n"))
    fa = read_table_or_dataset(gz, require_label=False)
    assert fa["label"].tolist() == [-1] and fa["sequence"].tolist() == ["ACGT"]
    with pytest.raises(InputError, match="carries no labels"):
        read_table_or_dataset(gz)


@pytest.mark.parametrize("text", ["sequence\tlabel\n" + "ACGT\t1\n" * 3000, ">a\n" + "ACGT\n" * 3000])
def test_read_table_or_dataset_truncated_gzip_is_one_line_error(tmp_path, text):
    # Shorter than one read buffer once decompressed: the sniffing read itself hits the end.
    data = gzip.compress(text.encode())
    p = tmp_path / "t.gz"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"t\.gz: truncated or corrupt gzip data .*gzip -t") as err:
        read_table_or_dataset(p, require_label=False)
    assert "\n" not in str(err.value)


def test_empty_input_names_every_accepted_format(tmp_path):
    (tmp_path / "e.fa").write_text("\n")
    with pytest.raises(InputError, match="e.fa: empty file; expected FASTA, a TSV/CSV table"):
        read_table_or_dataset(tmp_path / "e.fa", require_label=False)


def test_duplicate_id_names_both_records(tmp_path):
    (tmp_path / "d.tsv").write_text("id\tsequence\tlabel\na\tACGT\t1\nb\tACGA\t0\na\tACGG\t0\n")
    with pytest.raises(InputError, match=r"d.tsv: record 3: duplicate id 'a' \(first at record 1\)"):
        import_sources([Source("tsv", tmp_path / "d.tsv")])


def test_real_cohn_human_tsv(shared_data, tmp_path):
    df = import_sources([Source("tsv", shared_data / "cohn_human" / "cohn_human_dev.tsv.gz", species="Human")])
    assert len(df) == 5229 and int(df["label"].sum()) == 2607
    assert set(df["species"]) == {"Human"} and df["sequence"].str.len().eq(500).all()
    assert df["sequence"].str.fullmatch("[ACGTN]+").all()
    save_dataset(df, tmp_path / "h.parquet")
    assert json.loads((tmp_path / "h.parquet.json").read_text())["counts"]["species"]["Human"] == {"0": 2622, "1": 2607}


def test_read_table_or_dataset_reads_bare_sequence_lines(tmp_path):
    from genomic_ulmfit.data.dataset import read_table_or_dataset
    from genomic_ulmfit.errors import InputError

    path = tmp_path / "positive_samples"
    path.write_text("ACGTACGTAA\nacgtnnacgt\n")
    df = read_table_or_dataset(path, require_label=False)
    assert df["sequence"].tolist() == ["ACGTACGTAA", "ACGTNNACGT"]
    assert df["id"].tolist() == ["positive_samples:1", "positive_samples:2"]
    assert (df["label"] == -1).all()
    assert read_table_or_dataset(path, label=1)["label"].tolist() == [1, 1]
    with pytest.raises(InputError, match="bare sequences carries no labels"):
        read_table_or_dataset(path)


def test_sniffing_skips_blank_lines_and_bom_and_names_iupac(tmp_path):
    from genomic_ulmfit.data.dataset import read_table_or_dataset
    from genomic_ulmfit.errors import InputError

    blank_first = tmp_path / "b.fa"
    blank_first.write_text("\n" * 70 + ">a\nACGT\n")  # more blank lines than a 64-byte sniff saw
    assert read_table_or_dataset(blank_first, require_label=False)["sequence"].tolist() == ["ACGT"]
    bom = tmp_path / "bom.fa"
    bom.write_bytes(b"\xef\xbb\xbf;comment\n>a\nGGCC\n")
    assert read_table_or_dataset(bom, require_label=False)["sequence"].tolist() == ["GGCC"]
    with pytest.raises(InputError, match="FASTA file carries no labels; give it labels with `genomic-ulmfit data import"):
        read_table_or_dataset(bom)
    iupac = tmp_path / "lines.txt"
    iupac.write_text("ACGTACGTACGTRACGTACGTA\nACGTACGTAC\n")
    with pytest.raises(InputError, match=r"line 1: .*'R'"):
        read_table_or_dataset(iupac, require_label=False)
    assert read_table_or_dataset(iupac, require_label=False, mask_iupac=True)["sequence"][0][12] == "N"
