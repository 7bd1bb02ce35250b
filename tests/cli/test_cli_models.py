"""Model commands through ``genomic_ulmfit.cli.main``: round trips, one-line errors, help, lazy imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings

import pandas as pd
import pytest
import typer

from genomic_ulmfit.cli import app, main
from genomic_ulmfit.config import get_preset
from genomic_ulmfit.data.dataset import Source, import_sources, save_dataset
from genomic_ulmfit.data.simulate import simulate_cohn_layout
from genomic_ulmfit.data.split import assign_splits
from genomic_ulmfit.models.base import load_model


def run(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exc.value.code or 0, out.out, out.err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A split simulated dataset of two species (60 + 60 each), its genomes and a FASTA of its test rows."""
    root = tmp_path_factory.mktemp("cli")
    simulate_cohn_layout(root / "sim", n_species=2, per_class=60, genome_length=40_000, seed=0)
    df = assign_splits(import_sources([Source("cohn", str(root / "sim"))]), seed=0)
    save_dataset(df, root / "data.parquet")
    test = df[df["split"] == "test"]
    (root / "test.fa").write_text("".join(f">{i}\n{s}\n" for i, s in zip(test["id"], test["sequence"])))
    return {"root": root, "df": df, "dataset": root / "data.parquet", "test": test,
            "genome": root / "sim" / "genomes" / "SimHuman.fa.gz"}


@pytest.fixture(scope="module")
def kmer_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "kmer"
    with pytest.raises(SystemExit) as exc:
        main(["train", str(data["dataset"]), "--model", "kmer", "--out", str(out)])
    assert exc.value.code == 0
    return out


def test_train_predict_evaluate_round_trip(capsys, data, kmer_run, tmp_path):
    run_json = json.loads((kmer_run / "run.json").read_text())
    assert run_json["kind"] == "kmer" and run_json["data"]["dataset"] == str(data["dataset"])

    code, out, err = run(capsys, "predict", kmer_run, data["root"] / "test.fa", "--out", tmp_path / "p.tsv")
    assert code == 0, err
    assert f"{len(data['test'])} sequences scored" in out
    pred = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert list(pred.columns) == ["id", "score"] and pred["id"].tolist() == data["test"]["id"].tolist()

    code, out, err = run(capsys, "predict", kmer_run, data["dataset"], "--out", tmp_path / "all.tsv", "--rc-average")
    assert code == 0, err
    assert "AUROC against the input labels" in out

    code, _, err = run(capsys, "evaluate", kmer_run, "--data", data["dataset"], "--out", tmp_path / "e0", "--n-boot", "0")
    assert_one_line_error(code, err, "--n-boot 0 is not a number of resamples")
    code, out, err = run(capsys, "evaluate", kmer_run, "--data", data["dataset"], "--out", tmp_path / "eval",
                         "--n-boot", "50")
    assert code == 0, err
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert [r["species"] for r in metrics["results"]] == ["SimHuman", "SimMouse", "all"]
    scores = pd.read_csv(tmp_path / "eval" / "scores.tsv", sep="\t")
    merged = scores.merge(pred, on="id", suffixes=("_eval", "_predict"))
    assert len(merged) == len(pred)
    assert (merged["score_eval"] - merged["score_predict"]).abs().max() < 1e-6
    assert "SimHuman" in out and "metrics →" in out


def test_scan_command(capsys, data, kmer_run, tmp_path):
    code, out, err = run(capsys, "scan", kmer_run, data["genome"], "--out", tmp_path / "scan.tsv",
                         "--width", "500", "--step", "5000")
    assert code == 0, err
    win = pd.read_csv(tmp_path / "scan.tsv", sep="\t")
    assert len(win) > 0 and ((win["end"] - win["start"]) == 500).all()
    assert (tmp_path / "scan.tsv.regions.bed").is_file()
    assert f"{len(win)} windows" in out
    assert "--step 5000 is larger than the window width 500: 4500 bases between windows are not scored" in err
    code, out, err = run(capsys, "scan", kmer_run, data["genome"], "--out", tmp_path / "s2.tsv")
    length = json.loads((kmer_run / "run.json").read_text())["data"]["length"]["median"]
    assert code == 0 and f"windows of {length} bp (step {length // 2})" in out  # the training length
    assert "not calibrated alike" not in err
    win = pd.read_csv(tmp_path / "s2.tsv", sep="\t")
    # a balanced classifier that calls much of a genome is told so, with a remedy, and only then
    assert ("of the windows score ≥ 0.5" in err) == ((win["score"] >= 0.5).mean() > 0.1)
    code, out, err = run(capsys, "scan", kmer_run, data["genome"], "--out", tmp_path / "s3.tsv",
                         "--width", str(3 * length))
    assert code == 0 and f"trained on sequences of median length {length:,} bp, each scan window has" in err
    (tmp_path / "adir").mkdir()
    for cmd in (["scan", kmer_run, data["genome"]], ["predict", kmer_run, data["root"] / "test.fa"]):
        code, _, err = run(capsys, *cmd, "--out", tmp_path / "adir")
        assert_one_line_error(code, err, "adir is a directory; give a file name")


@pytest.mark.slow
def test_ulmfit_pipeline_through_the_cli(capsys, data, tmp_path):
    code, out, err = run(capsys, "lm", "pretrain", data["genome"], "--preset", "tiny", "--max-bases", "30000",
                         "--out", tmp_path / "lm")
    assert code == 0, err
    assert "LM written to" in out and "valid loss" in out
    chunks = json.loads((tmp_path / "lm" / "lm.json").read_text())["corpus"]
    assert f"genome chunks kept {chunks['chunks_kept']:,}, dropped for N/IUPAC bases {chunks['chunks_dropped']:,}" in out
    code, out, err = run(capsys, "lm", "finetune", data["dataset"], "--from", tmp_path / "lm", "--preset", "tiny",
                         "--species", "SimHuman", "--out", tmp_path / "ft")
    assert code == 0, err
    ft = json.loads((tmp_path / "ft" / "lm.json").read_text())
    assert ft["pretrained_from"] == str(tmp_path / "lm") and ft["data"]["species"] == ["SimHuman"]
    human_train = data["df"][(data["df"]["species"] == "SimHuman") & (data["df"]["split"] == "train")]
    assert ft["data"]["rows"] == len(human_train)
    code, out, err = run(capsys, "train", data["dataset"], "--model", "ulmfit", "--encoder", tmp_path / "ft",
                         "--preset", "tiny", "--species", "SimHuman", "--out", tmp_path / "run")
    assert code == 0, err
    model = load_model(tmp_path / "run")
    assert model.kind == "ulmfit" and model.encoder == str(tmp_path / "ft")
    code, out, err = run(capsys, "predict", tmp_path / "run", data["root"] / "test.fa", "--out", tmp_path / "p.tsv")
    assert code == 0, err
    (tmp_path / "short.fa").write_text(">a\nACGTACGTAC\n>b\nACG\n")  # shorter than one 4-mer: used to crash
    code, _, err = run(capsys, "predict", tmp_path / "run", tmp_path / "short.fa", "--out", tmp_path / "s.tsv")
    assert_one_line_error(code, err, "short.fa: prediction data: sequence 2 has 3 bp; this model needs at least 4")


def test_motifs_command(capsys, data, kmer_run, tmp_path):
    code, out, err = run(capsys, "motifs", data["dataset"], "--split", "test", "--run", kmer_run,
                         "--out", tmp_path / "m.tsv.gz")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "m.tsv.gz", sep="\t")
    assert table["motif"].tolist()[:2] == ["HNF4A", "CEBPA"] and "score_or" in table.columns
    assert f"8 motifs on {len(data['test']):,} sequences" in out
    (tmp_path / "bad.jaspar").write_text(">M1 x\nA [1 2]\n")
    code, _, err = run(capsys, "motifs", data["dataset"], "--jaspar", tmp_path / "bad.jaspar", "--out", tmp_path / "b.tsv")
    assert_one_line_error(code, err, "bad.jaspar: line 1: motif 'x' needs four rows")
    pytest.importorskip("pyjaspar")
    code, out, err = run(capsys, "motifs", data["dataset"], "--split", "test", "--jaspar", "jaspar",
                         "--out", tmp_path / "all.tsv")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "all.tsv", sep="\t")
    assert len(table) == 879 and "HNF4A/MA0114.5" in set(table["motif"])
    code, _, err = run(capsys, "motifs", data["dataset"], "--jaspar", "jaspar1999", "--out", tmp_path / "x.tsv")
    assert_one_line_error(code, err, "JASPAR 1999: not a release")


def test_holdout_resume_loads_finished_members(capsys, data, tmp_path):
    df = data["df"]
    df[df["split"] != "test"][["sequence", "label"]].to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    data["test"][["id", "sequence", "label"]].to_csv(tmp_path / "test.tsv", sep="\t", index=False)
    args = ["holdout", tmp_path / "train.tsv", tmp_path / "test.tsv", "--models", "kmer", "--out", tmp_path / "ho"]
    code, _, err = run(capsys, *args)
    assert code == 0, err
    record = tmp_path / "ho" / "runs" / "kmer" / "fit.json"
    model_json = tmp_path / "ho" / "runs" / "kmer" / "model.json"
    first = record.read_text()
    scores = (tmp_path / "ho" / "scores.tsv").read_text()
    os.utime(model_json, (0, 0))  # a saved model rewrites model.json, which moves its mtime off 0
    code, out, err = run(capsys, *args, "--resume")
    assert code == 0, err
    assert record.read_text() == first and model_json.stat().st_mtime == 0  # loaded, not refitted
    assert "loaded the finished fit" in out + err  # and the log says so
    assert (tmp_path / "ho" / "scores.tsv").read_text() == scores
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert model_json.stat().st_mtime != 0  # without --resume the member is fitted again
    assert "loaded the finished fit" not in out + err
    # another call into the same --out with fewer models would leave the old members beside its own
    code, _, err = run(capsys, "holdout", tmp_path / "train.tsv", tmp_path / "test.tsv", "--models", "cnn",
                       "--preset", "tiny", "--out", tmp_path / "ho")
    assert_one_line_error(code, err, "ho/runs holds members of an earlier holdout (kmer)")
    # its runs remember what they were trained on: scoring those sequences again is warned about
    code, _, err = run(capsys, "predict", tmp_path / "ho" / "runs" / "kmer", tmp_path / "train.tsv",
                       "--out", tmp_path / "again.tsv")
    assert code == 0 and "was trained on" in err and "train_split.parquet" in err


def test_holdout_warns_of_test_sequences_in_train_and_of_a_one_class_test(capsys, data, tmp_path):
    from genomic_ulmfit.data.sequences import revcomp

    df = data["df"]
    train = df[df["split"] != "test"]
    train[["sequence", "label"]].to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    test = data["test"][data["test"]["label"] == 1][["id", "sequence", "label"]].copy()
    test.loc[test.index[0], "sequence"] = train["sequence"].iloc[0]
    test.loc[test.index[1], "sequence"] = revcomp(train["sequence"].iloc[1])
    test.to_csv(tmp_path / "test.tsv", sep="\t", index=False)
    from genomic_ulmfit.evaluation.metrics import UndefinedMetricWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run(capsys, "holdout", tmp_path / "train.tsv", tmp_path / "test.tsv", "--models", "kmer",
                             "--out", tmp_path / "ho")
    assert code == 0, err
    assert not [w for w in caught if issubclass(w.category, UndefinedMetricWarning)]  # said once, as a warning line
    assert f"2 of {len(test)} test sequences also occur in" in err
    assert f"no negatives among {len(test)} labels: AUROC, AUPRC, specificity and MCC undefined" in err
    assert "AUROC n/a" in out
    metrics = json.loads((tmp_path / "ho" / "metrics.json").read_text(), parse_constant=pytest.fail)  # no NaN
    assert metrics["test_in_train"] == 2
    assert metrics["test_metrics"]["kmer"]["auroc"] is None and 0 <= metrics["test_metrics"]["kmer"]["recall"] <= 1


def test_cv_fold_fits_one_fold_and_writes_no_summary(capsys, data, tmp_path):
    args = ["cv", data["dataset"], "--models", "kmer", "--folds", "3", "--no-ensemble", "--out", tmp_path / "cv"]
    code, out, err = run(capsys, *args, "--fold", "2")
    assert code == 0, err
    assert (tmp_path / "cv" / "runs" / "kmer" / "fold1" / "fit.json").exists()
    assert not (tmp_path / "cv" / "runs" / "kmer" / "fold0").exists()
    assert "fitted fold(s) 2 of 3" in out + err and "summary →" not in out + err
    assert not (tmp_path / "cv" / "cv_summary.tsv").exists()
    code, _, err = run(capsys, *args, "--fold", "4")
    assert_one_line_error(code, err, "fold(s) 4 not in 1..3", "--fold")


def test_amp_option_sets_the_precision_and_run_json_records_it(capsys, data, kmer_run, tmp_path, monkeypatch):
    from genomic_ulmfit.config import AMP_ENV
    from genomic_ulmfit.training.loop import amp_name

    monkeypatch.delenv(AMP_ENV, raising=False)  # restored (unset) after the test
    code, _, err = run(capsys, "--amp", "off", "train", data["dataset"], "--model", "cnn", "--preset", "tiny",
                       "--out", tmp_path / "cnn")
    assert code == 0, err
    assert json.loads((tmp_path / "cnn" / "run.json").read_text())["amp"] == "off"
    monkeypatch.delenv(AMP_ENV)
    code, _, err = run(capsys, "train", data["dataset"], "--model", "cnn", "--preset", "tiny", "--out", tmp_path / "c2")
    assert code == 0, err
    assert json.loads((tmp_path / "c2" / "run.json").read_text())["amp"] == amp_name("cpu")
    assert "amp" not in json.loads((kmer_run / "run.json").read_text())  # no torch, no precision
    code, _, err = run(capsys, "--amp", "half", "train", data["dataset"], "--model", "cnn", "--out", tmp_path / "c3")
    assert_one_line_error(code, err, "--amp 'half' is not a mode", "auto, off, bf16, fp16")


def test_train_refuses_a_non_empty_directory(capsys, data, kmer_run):
    before = (kmer_run / "run.json").read_text()
    code, _, err = run(capsys, "train", data["dataset"], "--model", "kmer", "--out", kmer_run)
    assert_one_line_error(code, err, "directory is not empty", "--resume")
    assert (kmer_run / "run.json").read_text() == before
    code, _, err = run(capsys, "train", data["dataset"], "--model", "kmer", "--out", kmer_run, "--resume")
    assert_one_line_error(code, err, "nothing to resume")


def test_user_errors_are_one_line(capsys, data, kmer_run, tmp_path):
    code, _, err = run(capsys, "predict", tmp_path / "missing_run", data["root"] / "test.fa", "--out", tmp_path / "p")
    assert_one_line_error(code, err, "missing_run", "no such directory", "'train'")
    code, _, err = run(capsys, "predict", kmer_run, tmp_path / "missing.fa", "--out", tmp_path / "p.tsv")
    assert_one_line_error(code, err, "missing.fa")
    bad = tmp_path / "bad.fa"
    bad.write_text(">x\nACGTQACGT\n")
    code, _, err = run(capsys, "predict", kmer_run, bad, "--out", tmp_path / "p.tsv")
    assert_one_line_error(code, err, "bad.fa", "invalid character")
    code, _, err = run(capsys, "train", data["dataset"], "--model", "forest", "--out", tmp_path / "r1")
    assert_one_line_error(code, err, "unknown model 'forest'")
    code, _, err = run(capsys, "train", tmp_path / "nothing.parquet", "--model", "kmer", "--out", tmp_path / "r2")
    assert_one_line_error(code, err, "nothing.parquet", "not found")
    preset = get_preset("tiny").to_dict()
    del preset["name"]
    (tmp_path / "bad_preset.json").write_text(json.dumps(preset))
    code, _, err = run(capsys, "train", data["dataset"], "--model", "cnn", "--preset", tmp_path / "bad_preset.json",
                       "--out", tmp_path / "r3")
    assert_one_line_error(code, err, "missing key", "name")
    code, _, err = run(capsys, "evaluate", kmer_run, "--data", data["dataset"], "--species", "SimYeti",
                       "--out", tmp_path / "e")
    assert_one_line_error(code, err, "SimYeti")
    code, _, err = run(capsys, "lm", "pretrain", tmp_path / "none.fa", "--preset", "tiny", "--out", tmp_path / "lm")
    assert_one_line_error(code, err, "none.fa")
    code, _, err = run(capsys, "lm", "pretrain", data["genome"], "--preset", "tiny", "--max-bases", "0",
                       "--out", tmp_path / "lm0")
    assert_one_line_error(code, err, "--max-bases) 0 reads nothing")
    (tmp_path / "lm1" / "corpus").mkdir(parents=True)  # what a run that failed while training leaves
    code, _, err = run(capsys, "lm", "pretrain", data["genome"], "--preset", "tiny", "--max-bases", "5000",
                       "--epochs", "1", "--out", tmp_path / "lm1")
    assert code == 0 and (tmp_path / "lm1" / "lm.json").is_file(), err  # no dead end between --resume and not
    code, _, err = run(capsys, "demo", "--models", "kmer,,cnn", "--out", tmp_path / "demo")
    assert_one_line_error(code, err, "holds an empty entry")
    assert not (tmp_path / "demo").exists()
    code, _, err = run(capsys, "demo", "--models", "kmer,", "--per-class", "20", "--out", tmp_path / "demo")
    assert code == 2 and "warning: --per-class 20: each species' test split holds about 4 sequence(s)" in err


def test_training_commands_refuse_unsplit_data_and_unknown_presets(capsys, data, tmp_path):
    unsplit = data["df"].assign(split="")
    save_dataset(unsplit, tmp_path / "unsplit.parquet")
    code, _, err = run(capsys, "train", tmp_path / "unsplit.parquet", "--model", "kmer", "--out", tmp_path / "r1")
    assert_one_line_error(code, err, "unsplit.parquet", "without a train/valid/test split", "data split")
    code, _, err = run(capsys, "lm", "finetune", tmp_path / "unsplit.parquet", "--from", "none", "--preset", "tiny",
                       "--out", tmp_path / "ft")
    assert_one_line_error(code, err, "without a train/valid/test split")
    code, _, err = run(capsys, "train", data["dataset"], "--model", "kmer", "--preset", "bogus", "--out", tmp_path / "r2")
    assert_one_line_error(code, err, "unknown preset 'bogus'")
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_an_encoder_for_a_model_without_one_is_refused(capsys, data, tmp_path):
    code, _, err = run(capsys, "train", data["dataset"], "--model", "kmer", "--encoder", tmp_path,
                       "--out", tmp_path / "k")
    assert_one_line_error(code, err, "a kmer model has none", "drop --encoder")
    assert not (tmp_path / "k").exists()


def test_resume_of_a_one_step_model_or_of_another_kind_is_refused(capsys, data, tmp_path):
    code, _, err = run(capsys, "train", data["dataset"], "--model", "cnn", "--preset", "tiny", "--out", tmp_path / "c")
    assert code == 0, err
    code, _, err = run(capsys, "train", data["dataset"], "--model", "kmer", "--out", tmp_path / "c", "--resume")
    assert_one_line_error(code, err, "kmer model trains in one step", "drop --resume")
    code, _, err = run(capsys, "train", data["dataset"], "--model", "ulmfit", "--preset", "tiny",
                       "--out", tmp_path / "c", "--resume")
    assert code == 2 and "holds a cnn run, not ulmfit" in err and "Traceback" not in err


def test_ulmfit_without_a_language_model_warns(capsys, data, tmp_path):
    code, _, err = run(capsys, "cv", data["dataset"], "--models", "ulmfit", "--folds", "2", "--fold", "9",
                       "--out", tmp_path / "cv")
    assert "warning: no --lm" in err and "random weights" in err  # said before the run (which then fails)
    code, _, err = run(capsys, "cv", data["dataset"], "--models", "kmer,ulmfit:nolm", "--folds", "2", "--fold", "9",
                       "--out", tmp_path / "cv")
    assert "warning" not in err  # the ablation without an LM is asked for by name
    code, _, err = run(capsys, "cv", data["dataset"], "--models", "kmer,ulmfit:noft", "--folds", "2",
                       "--out", tmp_path / "cv2")
    assert_one_line_error(code, err, "ulmfit:noft", "--lm LM_DIR")  # before the k-mer LR trains, not after
    assert not (tmp_path / "cv2").exists()


def test_an_lm_unlike_the_preset_warns(capsys, data, tmp_path):
    tiny = get_preset("tiny")
    for name, k, stride in (("same", tiny.tokenizer.k, tiny.tokenizer.stride), ("other", 3, 1)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "lm.json").write_text(json.dumps({
            "preset": "tiny" if name == "same" else "paper-3mer", "tokenizer": {"k": k, "stride": stride},
            "config": {"emb_size": tiny.lstm.emb_size, "hidden_size": tiny.lstm.hidden_size,
                       "n_layers": tiny.lstm.n_layers}}))
    args = ["cv", data["dataset"], "--models", "kmer,ulmfit", "--preset", "tiny", "--folds", "2", "--fold", "9"]
    _, _, err = run(capsys, *args, "--lm", tmp_path / "same", "--out", tmp_path / "cv")
    assert "warning" not in err
    _, _, err = run(capsys, *args, "--lm", tmp_path / "other", "--out", tmp_path / "cv")
    assert "has k 3 (preset: 4), stride 1 (preset: 2); the model built on it keeps the LM's settings" in err
    assert "built with --preset paper-3mer" in err and "emb_size" not in err
    _, _, err = run(capsys, "lm", "finetune", data["dataset"], "--from", tmp_path / "other", "--preset", "tiny",
                    "--epochs", "0", "--out", tmp_path / "ft")
    assert "has k 3 (preset: 4)" in err


def test_arguments_are_checked_before_any_model_trains(capsys, data, tmp_path):
    code, _, err = run(capsys, "cv", data["dataset"], "--models", "kmer,ulmfit", "--lm", tmp_path / "no_lm",
                       "--out", tmp_path / "cv")
    assert_one_line_error(code, err, "no_lm: no lm.json here")
    assert not (tmp_path / "cv").exists()
    code, _, err = run(capsys, "benchmark", data["dataset"], "--models", "kmer,kmer", "--out", tmp_path / "b")
    assert_one_line_error(code, err, "kmer given twice")
    code, _, err = run(capsys, "cross-species", data["dataset"], "--model", "kmer,cnn", "--out", tmp_path / "x")
    assert_one_line_error(code, err, "one model at a time")
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "lm.json").write_text("{}")
    code, _, err = run(capsys, "lm", "finetune", data["dataset"], "--from", "none", "--preset", "tiny",
                       "--out", tmp_path / "lm", "--resume")
    assert_one_line_error(code, err, "finished (lm.json)", "new --out")


def test_an_out_that_is_a_file_is_one_line(capsys, data, kmer_run, tmp_path):
    (tmp_path / "afile").write_text("x")
    for cmd in (["train", data["dataset"], "--model", "kmer"], ["ensemble", kmer_run, kmer_run, "--data", data["dataset"]]):
        code, _, err = run(capsys, *cmd, "--out", tmp_path / "afile")
        assert_one_line_error(code, err, "afile: is a file, not a run directory")
    code, _, err = run(capsys, "ensemble", kmer_run, kmer_run, "--data", data["dataset"], "--out", tmp_path / "e2")
    assert_one_line_error(code, err, "given twice (it would count double)")
    code, _, err = run(capsys, "evaluate", kmer_run, f"{kmer_run}/", "--data", data["dataset"], "--out", tmp_path / "e3")
    assert_one_line_error(code, err, "evaluate:", "given twice (its rows would be scored twice)")


def test_evaluate_all_rows_of_the_training_data_warns(capsys, data, kmer_run, tmp_path):
    code, _, err = run(capsys, "evaluate", kmer_run, "--data", data["dataset"], "--split", "all", "--out", tmp_path / "e")
    df = pd.read_parquet(data["dataset"])
    n_used = int(df["split"].isin(["train", "valid"]).sum())
    assert code == 0 and f"was trained on {n_used:,} of the {len(df):,} sequences of split 'all'" in err
    assert "optimistic" in err
    # The same sequences in another file (here: the training rows as a TSV) are found too: predict,
    # whose AUROC would otherwise include them silently.
    used = df[df["split"] == "train"][["sequence", "label"]]
    used.to_csv(tmp_path / "copy.tsv", sep="\t", index=False)
    code, out, err = run(capsys, "predict", kmer_run, tmp_path / "copy.tsv", "--out", tmp_path / "p.tsv")
    assert code == 0 and f"was trained on {len(used):,} of the {len(used):,} sequences of" in err
    code, _, err = run(capsys, "evaluate", kmer_run, "--data", data["dataset"], "--split", "test", "--out", tmp_path / "t")
    assert code == 0 and "warning" not in err


def test_ensemble_checks_its_arguments(capsys, data, kmer_run, tmp_path):
    twin = tmp_path / "twin"  # the same model in another directory: two members
    shutil.copytree(kmer_run, twin)
    ens = ["ensemble", kmer_run, twin, "--data", data["dataset"]]
    for weights, fragment in (("1,abc", "not a comma list of numbers"), ("0,0", "positive sum"),
                              ("1,-1", ">= 0"), ("1,nan", "finite"), ("1", "1 weights for 2 members")):
        code, _, err = run(capsys, *ens, "--weights", weights, "--out", tmp_path / "e1")
        assert_one_line_error(code, err, fragment)
    code, _, err = run(capsys, "ensemble", kmer_run, "--data", data["dataset"], "--out", tmp_path / "e2")
    assert_one_line_error(code, err, "two or more run directories")
    code, _, err = run(capsys, *ens, "--weights", "1,3", "--out", tmp_path / "e3")
    assert code == 0 and json.loads((tmp_path / "e3" / "model.json").read_text())["params"]["weights"] == [1.0, 3.0]
    code, _, err = run(capsys, *ens, "--out", tmp_path / "e3")
    assert_one_line_error(code, err, "directory is not empty", "choose a new --out")


def _command_paths(group, prefix=()):
    """Every (sub)command path of a typer/click group, e.g. ("lm", "pretrain")."""
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if hasattr(cmd, "commands"):
            yield from _command_paths(cmd, (*prefix, name))


COMMANDS = list(_command_paths(typer.main.get_command(app)))


def test_every_model_command_is_registered():
    expected = {("lm", "pretrain"), ("lm", "finetune"), ("train",), ("predict",), ("scan",), ("evaluate",),
                ("lr-find",), ("benchmark",), ("cross-species",), ("demo",), ("cv",), ("holdout",), ("motifs",),
                ("top-kmers",)}
    assert expected <= set(COMMANDS)


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "top")
def test_help_of_every_command(capsys, path):
    code, out, err = run(capsys, *path, "--help")
    assert code == 0, err
    assert "Usage:" in out


def test_help_does_not_import_heavy_libraries():
    script = (
        "import sys\n"
        "from genomic_ulmfit.cli import main\n"
        f"for path in {[list(p) for p in [(), *COMMANDS]]!r}:\n"
        "    try:\n"
        "        main(path + ['--help'])\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, (path, e.code)\n"
        "heavy = [m for m in ('torch', 'pandas', 'sklearn', 'matplotlib', 'pyarrow') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "HEAVY []" in res.stdout, res.stdout[-500:]


def test_train_gkm_and_predict(capsys, data, tmp_path):
    """--model gkm trains the native gapped k-mer SVM; predict reloads it and scores what train scored."""
    out = tmp_path / "gkm"
    code, _, err = run(capsys, "train", data["dataset"], "--model", "gkm", "--out", out)
    assert code == 0, err
    meta = json.loads((out / "model.json").read_text())
    assert meta["kind"] == "gkm" and meta["platt_source"] == "validation"  # the valid split calibrates it
    assert meta["scores_by_C_gamma"][f"{meta['C']:g},{meta['gamma']:g}"] == max(meta["scores_by_C_gamma"].values())
    code, _, err = run(capsys, "predict", out, data["root"] / "test.fa", "--out", tmp_path / "p.tsv")
    assert code == 0, err
    scores = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    want = load_model(out).predict_proba(data["test"]["sequence"].tolist())
    assert len(scores) == len(data["test"]) and abs(scores.iloc[:, -1].to_numpy() - want).max() < 1e-6


def test_train_gkm_linear_keeps_gapped_kmer_weights(capsys, data, tmp_path):
    """--model gkm:linear fits the linear kernel only: the saved model holds a weight per gapped k-mer."""
    out = tmp_path / "gkm"
    code, _, err = run(capsys, "train", data["dataset"], "--model", "gkm:linear", "--out", out)
    assert code == 0, err
    model = load_model(out)
    assert model.gamma_ == 0 and set(model.scores_) == {f"{c:g},0" for c in model.Cs}
    code, printed, err = run(capsys, "top-kmers", out, "--n", "3", "--out", tmp_path / "top.tsv")
    assert code == 0, err
    top = pd.read_csv(tmp_path / "top.tsv", sep="\t")
    assert [(f, round(w, 4)) for f, w in zip(top["feature"], top["weight"])] == \
        [(f, round(w, 4)) for f, w in model.top_gapped_kmers(3)]
    assert top["feature"].iloc[0] in printed
    code, _, err = run(capsys, "train", data["dataset"], "--model", "gkm:rbf", "--out", tmp_path / "bad")
    assert code != 0 and "variant 'rbf'" in err and "Traceback" not in err
    code, _, err = run(capsys, "top-kmers", out, "--n", "0")
    assert code != 0 and "--n 0" in err and "Traceback" not in err


def test_kmer_copies_needs_its_genome_and_scores_with_it(capsys, data, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, _, err = run(capsys, "cv", data["dataset"], "--models", "kmer,kmer:copies", "--out", tmp_path / "cv")
    assert_one_line_error(code, err, "kmer:copies", "--copies-genome")
    code, _, err = run(capsys, "holdout", data["dataset"], data["dataset"],
                       "--models", "kmer", "--copies-genome", data["genome"], "--out", tmp_path / "h")
    assert_one_line_error(code, err, "read by the kmer:copies and gkm:copies models only")
    code, _, err = run(capsys, "train", data["dataset"], "--model", "kmer:copies", "--copies-genome",
                       tmp_path / "none.fa", "--out", tmp_path / "run")
    assert_one_line_error(code, err, "none.fa: file not found")
    assert not any((tmp_path / d).exists() for d in ("cv", "h", "run"))
    code, _, err = run(capsys, "train", data["dataset"], "--model", "kmer:copies", "--species", "SimHuman",
                       "--copies-genome", data["genome"], "--out", tmp_path / "run")
    assert code == 0, err
    assert load_model(tmp_path / "run").copies_genome == (str(data["genome"].resolve()),)
    assert len(list((tmp_path / "cache" / "genomic-ulmfit" / "copies").glob("*.npz"))) == 1
    code, _, err = run(capsys, "predict", tmp_path / "run", data["root"] / "test.fa", "--out", tmp_path / "p.tsv")
    assert code == 0, err
    scores = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert len(scores) == len(data["test"]) and scores["score"].between(0, 1).all()


def test_motif_models_take_a_motif_file_and_refuse_a_bad_one_before_any_fit(capsys, data, tmp_path):
    from genomic_ulmfit.data.motifs import MOTIFS

    jaspar = tmp_path / "two.jaspar"
    jaspar.write_text("".join(f">{m.jaspar_id} {m.name}\n" + "".join(
        f"{b} [ {' '.join(f'{c:g}' for c in row)} ]\n" for b, row in zip("ACGT", m.counts))
        for m in (MOTIFS["HNF4A"], MOTIFS["CEBPA"])))
    code, _, err = run(capsys, "cv", data["dataset"], "--models", "kmer", "--motifs", jaspar, "--out", tmp_path / "cv")
    assert_one_line_error(code, err, "--motifs is read by the kmer:motifs and gkm:motifs models")
    (tmp_path / "bad.jaspar").write_text(">MA1 X\nA [ 1 2 ]\nC [ 1 ]\n")
    code, _, err = run(capsys, "holdout", data["dataset"], data["dataset"], "--models", "kmer,kmer:motifs",
                       "--motifs", tmp_path / "bad.jaspar", "--out", tmp_path / "h")
    assert_one_line_error(code, err, "bad.jaspar: line 1: motif 'X' needs four rows")
    assert not any((tmp_path / d).exists() for d in ("cv", "h"))
    code, _, err = run(capsys, "train", data["dataset"], "--model", "kmer:motifs", "--species", "SimHuman",
                       "--motifs", jaspar, "--out", tmp_path / "run")
    assert code == 0, err
    model = load_model(tmp_path / "run")
    assert model.motifs == str(jaspar) and model.motif_names_ == ["HNF4A", "CEBPA"]
    code, _, err = run(capsys, "top-kmers", tmp_path / "run", "--n", "4000", "--out", tmp_path / "top.tsv")
    assert code == 0, err
    assert {"motif:HNF4A", "motif:CEBPA"} <= set(pd.read_csv(tmp_path / "top.tsv", sep="\t")["feature"])
