"""`genomic-ulmfit data ...` end to end through ``genomic_ulmfit.cli.main``: exit codes and output."""

from __future__ import annotations

import gzip
import json

import pytest

from genomic_ulmfit.cli import main
from genomic_ulmfit.cli.data import split_suffix
from genomic_ulmfit.data.dataset import load_dataset, read_sidecar
from toy import serve_files


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exc.value.code or 0, out.out, out.err


@pytest.fixture
def inputs(tmp_path):
    for sp, pos, neg in (("Human", "ACGTACGTAA\nGGGCCCATAT\n", "TTTTAAAACC\nCCGGAATTCA\n"),
                         ("Dog", "AAAACCCCGG\n", "CCGGTTAAGG\n")):
        d = tmp_path / "cohn" / sp
        d.mkdir(parents=True)
        (d / "positive_samples").write_text(pos)
        (d / "negative_samples").write_text(neg)
    (tmp_path / "t.tsv").write_text("sequence\tlabel\nACGTTGCA\t1\nAAAACCCC\t0\n")
    (tmp_path / "pos.fa").write_text(">p1\nACGTACGTAA\n")
    (tmp_path / "neg.fa").write_text(">n1\nTTGCATTGCA\n")
    (tmp_path / "g.fa").write_text(">chr1\n" + "ACGTTGCAAC" * 20 + "\n")
    (tmp_path / "r.bed").write_text("chr1\t10\t30\nchr1\t50\t70\n")
    return tmp_path


def test_split_suffix(tmp_path):
    assert split_suffix("a/b.tsv:Human") == ("a/b.tsv", "Human")
    assert split_suffix("data.tgz:Human,Mouse") == ("data.tgz", "Human,Mouse")
    assert split_suffix("plain.tsv") == ("plain.tsv", None)
    assert split_suffix("C:\\data\\pos.fa") == ("C:\\data\\pos.fa", None)  # a drive letter
    assert split_suffix("C:\\data\\pos.fa:Mouse") == ("C:\\data\\pos.fa", "Mouse")
    weird = tmp_path / "x:y"
    weird.write_text("")
    assert split_suffix(str(weird)) == (str(weird), None)


def test_import_all_source_kinds(capsys, inputs):
    out = inputs / "ds.parquet"
    code, stdout, err = run(
        capsys, "data", "import", "--cohn", inputs / "cohn", "--tsv", f"{inputs / 't.tsv'}:Cat",
        "--positive", f"{inputs / 'pos.fa'}:Mouse", "--negative", f"{inputs / 'neg.fa'}:Mouse",
        "--bed", inputs / "r.bed", "--genome", inputs / "g.fa", "--label", "1", "--species", "Rat",
        "--width", "10", "--out", out,
    )
    assert code == 0, err
    df = load_dataset(out)
    assert len(df) == 6 + 2 + 2 + 2
    assert df.groupby("species").size().to_dict() == {"Cat": 2, "Dog": 2, "Human": 4, "Mouse": 2, "Rat": 2}
    assert (df.loc[df["species"] == "Rat", "sequence"].str.len() == 10).all()
    assert "Human" in stdout and "12 sequences" in stdout and "content hash" in stdout
    assert [s["kind"] for s in read_sidecar(out)["sources"]] == ["cohn", "tsv", "fasta", "fasta", "bed"]


def test_import_bad_input_exit_2_one_line(capsys, inputs):
    (inputs / "bad.tsv").write_text("sequence\tlabel\nACGT\t1\nACXT\t0\n")
    code, stdout, err = run(capsys, "data", "import", "--tsv", inputs / "bad.tsv", "--out", inputs / "o.parquet")
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "bad.tsv: line 3: invalid character(s) 'X'" in err and "Traceback" not in err
    assert not (inputs / "o.parquet").exists()


def test_import_truncated_gzip_and_no_sources(capsys, inputs):
    data = gzip.compress(("sequence\tlabel\n" + ("ACGT" * 300 + "\t1\n") * 200).encode())
    (inputs / "trunc.tsv.gz").write_bytes(data[: len(data) // 2])
    code, _, err = run(capsys, "data", "import", "--tsv", inputs / "trunc.tsv.gz", "--out", inputs / "o.parquet")
    assert code == 2 and "truncated or corrupt gzip" in err and err.count("\n") == 1
    code, _, err = run(capsys, "data", "import", "--out", inputs / "o.parquet")
    assert code == 2 and "no input given" in err


def test_import_refuses_a_file_given_twice_and_a_non_parquet_out(capsys, inputs):
    code, _, err = run(capsys, "data", "import", "--positive", inputs / "pos.fa", "--negative", inputs / "pos.fa",
                       "--out", inputs / "o.parquet")
    assert code == 2 and "pos.fa: given twice (already read as the positives)" in err and err.count("\n") == 1
    code, _, err = run(capsys, "data", "import", "--tsv", inputs / "t.tsv", "--out", inputs / "o.tsv")
    assert code == 2 and "ending in .parquet" in err
    assert not (inputs / "o.parquet").exists() and not (inputs / "o.tsv").exists()


def test_import_warns_about_sequences_without_bases(capsys, inputs):
    (inputs / "n.fa").write_text(">blank\nNNNNNNNN\n>fine\nACGTNNAC\n")
    code, _, err = run(capsys, "data", "import", "--positive", inputs / "n.fa", "--out", inputs / "n.parquet")
    assert code == 0 and "warning: 1 sequence(s) have no A/C/G/T base (first: blank" in err
    code, _, err = run(capsys, "data", "import", "--positive", inputs / "pos.fa", "--out", inputs / "p.parquet")
    assert code == 0 and "warning" not in err


def test_split_stats_check_pipeline(capsys, inputs, tmp_path):
    ds = tmp_path / "ds.parquet"
    assert run(capsys, "data", "import", "--cohn", inputs / "cohn", "--out", ds)[0] == 0
    code, stdout, err = run(capsys, "data", "split", ds, "--fractions", "0.5,0.25,0.25", "--folds", "2", "--seed", "1")
    assert code == 0, err
    df = load_dataset(ds)
    assert set(df["split"]) <= {"train", "valid", "test"} and "" not in set(df["split"])
    assert "fold" in df.columns and "ok: 0 duplicate groups" in stdout
    assert "warning: species Dog: the test split is empty (AUROC cannot be computed on it)" in err  # 2 rows
    code, _, err = run(capsys, "data", "split", ds, "--out", tmp_path / "x.tsv")
    assert code == 2 and "give a file name ending in .parquet" in err and not (tmp_path / "x.tsv").exists()
    code, _, err = run(capsys, "data", "stats", ds, "--json", tmp_path)
    assert code == 2 and "is a directory; give a file name" in err
    code, stdout, _ = run(capsys, "data", "stats", ds, "--json", tmp_path / "s.json")
    assert code == 0 and "GC AUROC" in stdout
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["overall"]["n"] == 6 and set(stats["species"]) == {"Dog", "Human"}
    code, stdout, _ = run(capsys, "data", "check", ds, "--json", tmp_path / "c.json", "--near-k", "8")
    assert code == 0 and json.loads((tmp_path / "c.json").read_text())["mode"] == "within"


def test_split_bad_fractions(capsys, inputs, tmp_path):
    ds = tmp_path / "ds.parquet"
    run(capsys, "data", "import", "--cohn", inputs / "cohn", "--out", ds)
    code, _, err = run(capsys, "data", "split", ds, "--fractions", "0.8,0.3,0.1")
    assert code == 2 and "must sum to 1" in err and "0.8,0.3,0.1" in err


def test_check_between_raw_files_and_fail_on_leak(capsys, tmp_path):
    (tmp_path / "train.tsv").write_text("sequence\tlabel\nACGTACGTAAGG\t1\nTTTTGGGGCCAA\t0\n")
    (tmp_path / "test.fa").write_text(">x\nCCTTACGTACGT\n>y\nGATTACAGATTA\n")  # x = revcomp of row 1
    code, stdout, _ = run(capsys, "data", "check", tmp_path / "train.tsv", tmp_path / "test.fa")
    assert code == 0 and "LEAK: 1 of 2 rows of B" in stdout and "1 as reverse complement" in stdout
    code, _, _ = run(capsys, "data", "check", tmp_path / "train.tsv", tmp_path / "test.fa", "--fail-on-leak")
    assert code == 1
    code, _, _ = run(capsys, "data", "check", tmp_path / "train.tsv", "--fail-on-leak")
    assert code == 0


def test_check_and_stats_errors(capsys, tmp_path):
    code, _, err = run(capsys, "data", "check", tmp_path / "missing.tsv")
    assert code == 2 and "file not found" in err
    (tmp_path / "x.tsv").write_text("sequence\tlabel\nACGT\t1\n")
    code, _, err = run(capsys, "data", "check", tmp_path / "x.tsv", "--near-k", "40")
    assert code == 2 and "between 8 and 32" in err


def test_download_command(capsys, tmp_path):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for fname in ("positive_samples", "negative_samples"):
            info = tarfile.TarInfo(f"Human/{fname}")
            info.size = 5
            tar.addfile(info, io.BytesIO(b"ACGT\n"))
    with serve_files({"/E.tgz": buf.getvalue()}) as (base, _):
        url = f"{base}/E.tgz"
        code, stdout, err = run(capsys, "data", "download", "cohn", "--out", tmp_path / "c", "--url", url)
        assert code == 0, err
        assert (tmp_path / "c" / "Human" / "positive_samples").read_text() == "ACGT\n"
        code, _, err = run(capsys, "data", "download", "vista", "--out", tmp_path / "c")
        assert code == 2 and "unknown data set 'vista'" in err
        bad = tmp_path / "bad" / "Enhancers_vs_negative.tgz"
        bad.parent.mkdir()
        bad.write_bytes(b"<html>a login page saved by an earlier download</html>")
        code, _, err = run(capsys, "data", "download", "cohn", "--out", tmp_path / "bad", "--url", url)
        assert code == 0, err  # the page is found out, removed and the archive fetched again
        assert (tmp_path / "bad" / "Human" / "negative_samples").read_text() == "ACGT\n"


def test_simulate_then_import(capsys, tmp_path):
    pytest.importorskip("genomic_ulmfit.data.simulate")
    sim = tmp_path / "sim"
    code, stdout, err = run(capsys, "data", "simulate", sim, "--species", "2", "--per-class", "20",
                            "--length", "60", "--genome-length", "2000")
    assert code == 0, err
    assert (sim / "genomes").is_dir() and "SIMULATED" in stdout
    code, _, err = run(capsys, "data", "import", "--cohn", sim, "--out", tmp_path / "sim.parquet")
    assert code == 0, err
    df = load_dataset(tmp_path / "sim.parquet")
    assert len(df) == 80 and df["species"].nunique() == 2 and (df["sequence"].str.len() == 60).all()
    code, _, err = run(capsys, "data", "import", "--cohn", sim, "--species", "SimMouse", "--out", tmp_path / "m.parquet")
    assert code == 2 and f"to keep only some, give --cohn {sim}:SimMouse" in err  # it used to import both species
    assert not (tmp_path / "m.parquet").exists()
    code, _, err = run(capsys, "data", "simulate", sim, "--species", "1", "--per-class", "20", "--length", "60",
                       "--genome-length", "2000")  # would leave SimMouse/ behind, mixed into the next import
    assert code == 2 and len(err.strip().splitlines()) == 1 and "already holds SimMouse/" in err
    code, _, err = run(capsys, "data", "simulate", tmp_path / "new", "--per-class", "0")
    assert code == 2 and "sequences per class (--per-class) 0 is not allowed" in err


def test_real_cohn_human_import(capsys, shared_data, tmp_path):
    out = tmp_path / "h.parquet"
    code, stdout, err = run(
        capsys, "data", "import", "--tsv", f"{shared_data / 'cohn_human' / 'cohn_human_dev.tsv.gz'}:Human", "--out", out
    )
    assert code == 0, err
    df = load_dataset(out)
    assert len(df) == 5229 and int(df["label"].sum()) == 2607 and "2,607" in stdout


@pytest.mark.parametrize("where", [
    ("data", "import", "--positive", "{d}/pos.fa", "--negative", "{d}/neg.fa", "--out", "{d}/pos.fa/x.parquet"),
    ("data", "split", "{d}/ds.parquet", "--out", "{d}/pos.fa/sub/x.parquet"),
    ("data", "stats", "{d}/ds.parquet", "--json", "{d}/pos.fa/x.json"),
    ("data", "simulate", "{d}/pos.fa/sim"),
    ("data", "simulate", "{d}/pos.fa"),
])
def test_output_below_a_file_is_one_line(capsys, inputs, where):
    code, _, err = run(capsys, "data", "import", "--tsv", inputs / "t.tsv", "--out", inputs / "ds.parquet")
    assert code == 0, err
    code, _, err = run(capsys, *(w.format(d=inputs) for w in where))
    assert code == 2 and err.startswith("error: ") and "pos.fa" in err and "is a file" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("extra,msg", [
    (("--label", "0"), "--label only apply to --bed"),
    (("--genome", "{d}/g.fa", "--width", "5"), "--genome, --width only apply to --bed"),
    (("--min-length", "-5"), "--min-length -5"),
    (("--include-peaks",), "no --cohn was given"),
])
def test_import_refuses_options_it_would_ignore(capsys, inputs, extra, msg):
    out = inputs / "y.parquet"
    code, _, err = run(capsys, "data", "import", "--positive", inputs / "pos.fa", "--negative", inputs / "neg.fa",
                       *(e.format(d=inputs) for e in extra), "--out", out)
    assert code == 2 and msg in err and not out.exists()


def test_binary_files_given_as_tables_are_named(capsys, inputs, tmp_path):
    import tarfile
    import zipfile

    code, _, err = run(capsys, "data", "import", "--tsv", inputs / "t.tsv", "--out", inputs / "ds.parquet")
    assert code == 0, err
    with tarfile.open(tmp_path / "c.tgz", "w:gz") as tar:
        tar.add(inputs / "cohn", arcname="cohn")
    with zipfile.ZipFile(tmp_path / "t.zip", "w") as z:
        z.write(inputs / "t.tsv", "t.tsv")
    for args, kind in (
        (("data", "stats", tmp_path / "c.tgz"), "is a tar archive; read a Cohn et al. archive with"),
        (("data", "stats", tmp_path / "t.zip"), "is a zip archive"),
        (("data", "import", "--tsv", inputs / "ds.parquet", "--out", tmp_path / "o.parquet"), "is a Parquet file"),
        (("data", "check", inputs / "ds.parquet", tmp_path / "c.tgz"), "c.tgz: this is a tar archive"),
    ):
        code, _, err = run(capsys, *args)
        assert code == 2 and kind in err, (args, err)


def test_same_file_names_in_two_folders_import_together(capsys, tmp_path):
    for d, pos in (("A", "ACGTAC"), ("B", "ACGTAA")):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.tsv").write_text(f"sequence\tlabel\n{pos}\t1\nTTTACG\t0\n")
    out = tmp_path / "y.parquet"
    code, _, err = run(capsys, "data", "import", "--tsv", tmp_path / "A" / "x.tsv", "--tsv", tmp_path / "B" / "x.tsv",
                       "--out", out)
    assert code == 0, err
    ids = load_dataset(out)["id"].tolist()
    assert len(set(ids)) == 4 and any("A/x" in i for i in ids) and any("B/x" in i for i in ids)


def test_path_errors_left_to_the_system_are_one_line():
    from genomic_ulmfit.cli import _path_error

    msg = _path_error(NotADirectoryError(20, "Not a directory", "a.fa/out"))
    assert msg == "a.fa/out: Not a directory; a part of this path is a file, not a folder; choose another path"


def test_ctrl_c_exits_130_with_a_hint_to_resume(capsys, tmp_path, monkeypatch):
    import genomic_ulmfit.data.simulate as simulate

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(simulate, "simulate_cohn_layout", interrupted)
    code, _, err = run(capsys, "data", "simulate", tmp_path / "sim")
    assert code == 130 and "interrupted" in err and "--resume" in err


def test_copies_builds_the_index_once_and_compares_the_classes(capsys, tmp_path, monkeypatch):
    from toy import repeat_genome_world

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    genome, (seqs, y), _ = repeat_genome_world(tmp_path)
    table = tmp_path / "set.tsv"
    table.write_text("sequence\tlabel\n" + "".join(f"{s}\t{int(v)}\n" for s, v in zip(seqs, y, strict=True)))
    code, out, err = run(capsys, "data", "copies", genome, "--data", table)
    assert code == 0, err
    assert len(list((tmp_path / "cache" / "genomic-ulmfit" / "copies").glob("*.npz"))) == 1
    # negatives carry a repeat family: their share of repeated 20-mers is high, the positives' zero
    assert "label 1: 0.000" in out and "AUROC of that share alone 1.000" in out
    code, _, err = run(capsys, "data", "copies", genome, genome)
    assert code == 2 and "the same contents as" in err and "Traceback" not in err
