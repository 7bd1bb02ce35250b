"""run_benchmark and cross_species on two simulated species."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from genomic_ulmfit.data.dataset import Source, import_sources, load_dataset, save_dataset
from genomic_ulmfit.data.simulate import simulate_cohn_layout
from genomic_ulmfit.data.split import assign_splits
from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.evaluation.benchmark import (
    cross_species,
    ensure_split,
    fit_for,
    parse_models,
    parse_species,
    run_benchmark,
)
from genomic_ulmfit.evaluation.report import PUBLISHED
from genomic_ulmfit.models.base import load_model
from genomic_ulmfit.models.ensemble import EnsembleModel
from genomic_ulmfit.models.names import VARIANTS
from genomic_ulmfit.training.runs import training_overlap

SPECIES = ["SimHuman", "SimMouse"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two simulated species, 60 + 60 sequences each, saved unsplit (the benchmark splits it)."""
    root = tmp_path_factory.mktemp("bench_data")
    simulate_cohn_layout(root / "sim", n_species=2, per_class=60, write_genomes=False, seed=0)
    path = root / "data.parquet"
    save_dataset(import_sources([Source("cohn", str(root / "sim"))]), path)
    return path


@pytest.fixture(scope="module")
def bench(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    lines: list[str] = []
    results = run_benchmark(dataset, out, models="kmer,cnn", preset="tiny", ensemble=True, n_boot=50,
                            progress=False, log=lines.append)
    return {"out": out, "results": results, "log": lines}


@pytest.mark.slow
def test_benchmark_results_rows_and_files(bench):
    out, results = bench["out"], bench["results"]
    for name in ("report.md", "report.html", "results.tsv", "scores.tsv", "benchmark.json", "metrics.json",
                 "auroc_ci.png", "roc_pr_SimHuman.png"):
        assert (out / name).is_file(), name
    expected = {(m, s) for m in ("kmer", "cnn", "ensemble") for s in [*SPECIES, "all"]}
    assert set(zip(results["model"], results["species"])) == expected and len(results) == len(expected)
    on_disk = pd.read_csv(out / "results.tsv", sep="\t", keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(on_disk[["model", "species", "n_test", "auroc"]],
                                  results[["model", "species", "n_test", "auroc"]], check_dtype=False)
    # Every number is the AUROC of the written scores.
    scores = pd.read_csv(out / "scores.tsv", sep="\t")
    for row in results.itertuples():
        part = scores[scores["model"] == row.model]
        if row.species != "all":
            part = part[part["species"] == row.species]
        assert row.auroc == pytest.approx(roc_auc_score(part["label"], part["score"]), abs=1e-12)
    per_species = results[results["species"] != "all"]
    assert (per_species["train_seconds"] >= 0).all()
    assert json.loads((out / "benchmark.json").read_text())["run_info"]["split"].startswith("80/10/10")


@pytest.mark.slow
def test_benchmark_report_has_no_published_rows_for_simulated_species(bench):
    md = (bench["out"] / "report.md").read_text()
    html = (bench["out"] / "report.html").read_text()
    for name in PUBLISHED:
        assert name not in md and name not in html
    assert "†" not in md
    assert "No published numbers exist" in md
    assert "Species named Sim* are simulated" in md
    assert "Column 'all': each model's per-species test scores pooled" in md and "(pooled)':" not in md
    auroc = bench["results"].set_index(["model", "species"]).loc[("kmer", "SimHuman"), "auroc"]
    assert f"{auroc:.3f}" in md and "data:image/png;base64," in html


@pytest.mark.slow
def test_benchmark_runs_are_reusable(bench, dataset):
    out = bench["out"]
    scores = pd.read_csv(out / "scores.tsv", sep="\t")
    for model in ("kmer", "cnn", "ensemble"):
        run = out / "runs" / model / "SimHuman"
        loaded = load_model(run)
        part = scores[(scores["model"] == model) & (scores["species"] == "SimHuman")]
        seqs = load_dataset(dataset).set_index("id").loc[part["id"], "sequence"].tolist()
        np.testing.assert_allclose(loaded.predict_proba(seqs), part["score"], rtol=0, atol=1e-9)
        if model == "ensemble":
            assert isinstance(loaded, EnsembleModel) and len(loaded.models_) == 2
            # the report says which members the ensemble weighs (it may be one model alone)
            kept = ", ".join(m for m, w in zip(("kmer", "cnn"), loaded.weights_, strict=True) if w > 0)
            assert f"SimHuman: {kept}" in (out / "report.md").read_text()
        else:
            run_json = json.loads((run / "run.json").read_text())
            assert run_json["data"]["species"] == ["SimHuman"]
            assert run_json["data"]["train_rows"] + run_json["data"]["valid_rows"] < 120  # no test rows
    assert [line for line in bench["log"] if "training" in line]


def test_benchmark_pooled_rows(dataset, tmp_path):
    results = run_benchmark(dataset, tmp_path, models=["kmer"], pooled=True, n_boot=20, progress=False,
                            log=lambda _: None)
    rows = list(zip(results["model"], results["species"]))
    assert rows == [(m, s) for m in ("kmer", "kmer (pooled)") for s in [*SPECIES, "all"]]
    pooled = results[results["model"] == "kmer (pooled)"]
    assert pooled["train_seconds"].notna().all()
    run = json.loads((tmp_path / "runs" / "kmer" / "pooled" / "run.json").read_text())
    assert run["data"]["species"] == SPECIES
    # the runs name their dataset, so scoring one on its own training rows is caught later
    seqs = load_dataset(dataset)["sequence"].tolist()
    for tag in ("pooled", "SimMouse"):
        run_dir = tmp_path / "runs" / "kmer" / tag
        data = json.loads((run_dir / "run.json").read_text())["data"]
        assert training_overlap(run_dir, seqs) == (data["train_rows"] + data["valid_rows"], str(dataset))


def test_cross_species_matrix(dataset, tmp_path):
    matrix = cross_species(dataset, tmp_path, model="kmer", progress=False, log=lambda _: None)
    assert matrix.index.tolist() == [*SPECIES, "pooled"] and matrix.columns.tolist() == SPECIES
    assert ((matrix.to_numpy() >= 0) & (matrix.to_numpy() <= 1)).all()
    tsv = pd.read_csv(tmp_path / "cross_species.tsv", sep="\t", index_col=0)
    assert tsv.index.name == "trained_on" and tsv.index.tolist() == matrix.index.tolist()
    np.testing.assert_allclose(tsv.to_numpy(), matrix.to_numpy(), rtol=0, atol=5e-5)
    assert (tmp_path / "cross_species.png").read_bytes()[:4] == b"\x89PNG"
    # The diagonal is the within-species test AUROC of the saved run.
    df = assign_splits(load_dataset(dataset), seed=0)
    test = df[(df["split"] == "test") & (df["species"] == "SimMouse")]
    model = load_model(tmp_path / "runs" / "kmer" / "SimMouse")  # runs/<model>/<trained on>, as benchmark's
    assert matrix.loc["SimMouse", "SimMouse"] == pytest.approx(
        roc_auc_score(test["label"], model.predict_proba(test["sequence"].tolist())), abs=1e-12
    )


def test_cross_species_resume_finds_fits_in_the_earlier_layout(dataset, tmp_path):
    said = []
    first = cross_species(dataset, tmp_path, model="kmer", pooled=False, progress=False, log=said.append)
    for sp in SPECIES:  # as an earlier version laid them out: runs/<species>
        (tmp_path / "runs" / "kmer" / sp).rename(tmp_path / "runs" / sp)
    again = cross_species(dataset, tmp_path, model="kmer", pooled=False, resume=True, progress=False,
                          log=said.append)
    pd.testing.assert_frame_equal(first, again)
    assert sum("loaded the finished fit" in m for m in said) == 2 and sum("moved the earlier fit" in m for m in said) == 2
    assert not (tmp_path / "runs" / "SimHuman").exists()


def test_cross_species_refuses_a_single_species(dataset, tmp_path):
    with pytest.raises(ConfigError, match="at least two species, got SimMouse only"):
        cross_species(dataset, tmp_path, model="kmer", species="SimMouse", progress=False, log=lambda _: None)
    assert not (tmp_path / "runs").exists()  # refused before anything was fitted
    no_pool = cross_species(dataset, tmp_path / "np", model="kmer", pooled=False, species="SimMouse,SimHuman",
                            progress=False, log=lambda _: None)
    assert no_pool.index.tolist() == no_pool.columns.tolist() == ["SimMouse", "SimHuman"]  # no pooled row


def test_cross_species_refuses_a_species_whose_test_split_lacks_a_class(dataset, tmp_path):
    df, _ = ensure_split(load_dataset(dataset), 0)
    df = df[~((df["species"] == "SimMouse") & (df["split"] == "test") & (df["label"] == 1))]
    with pytest.raises(ConfigError, match="species SimMouse: the test split holds no positives"):
        cross_species(df, tmp_path, model="kmer", progress=False, log=lambda _: None)
    assert not (tmp_path / "runs").exists()  # refused before anything was fitted
    # benchmark too: the species would have been trained and then left out of the report
    with pytest.raises(ConfigError, match=r"SimMouse: the test split holds no positives.*data split --fractions"):
        run_benchmark(df, tmp_path, models="kmer", progress=False, log=lambda _: None)
    assert not (tmp_path / "runs").exists()


def test_a_dataset_split_only_in_part_is_not_split_again_silently(dataset):
    df, _ = ensure_split(load_dataset(dataset), 0)
    df.loc[df.index[:3], "split"] = ""
    with pytest.raises(ConfigError, match="3 of .* rows have no train/valid/test split while the others do"):
        ensure_split(df, 0)
    fresh, here = ensure_split(df.assign(split=""), 0)
    assert here and set(fresh["split"]) == {"train", "valid", "test"}


def test_parse_models_and_species(dataset):
    assert parse_models("kmer, cnn:cohn,ulmfit:scratch") == ["kmer", "cnn:cohn", "ulmfit:scratch"]
    with pytest.raises(ConfigError, match="unknown model.*rnn.*choose from"):
        parse_models("kmer,rnn")
    with pytest.raises(ConfigError, match="cnn:huge"):
        parse_models(["cnn:huge"])
    df = load_dataset(dataset)
    assert parse_species(df, "all") == SPECIES and parse_species(df, None) == SPECIES
    assert parse_species(df, "SimMouse") == ["SimMouse"]
    with pytest.raises(InputError, match="SimCat not in the dataset"):
        parse_species(df, "SimHuman,SimCat")


def test_fit_for_ulmfit_comp_builds_the_composition_head(dataset, tmp_path):
    df = assign_splits(load_dataset(dataset), seed=0)
    df = df[df["split"] != "test"]
    model, seconds = fit_for("ulmfit:comp", df, tmp_path, preset="tiny", lm_dir=None, finetune=False,
                             progress=False)
    assert seconds > 0 and model.composition and model.model_.head.layers[0].num_features == 4 * model.config_.emb_size
    back = load_model(tmp_path)
    assert back.composition and back.get_params() == model.get_params()
    assert "comp" in VARIANTS["ulmfit"] and parse_models("ulmfit:comp") == ["ulmfit:comp"]


def test_fit_records_from_before_the_precision_key_are_reused_where_they_still_hold(dataset, tmp_path,
                                                                                    monkeypatch):
    from genomic_ulmfit.evaluation.benchmark import FIT_RECORD

    df = assign_splits(load_dataset(dataset), seed=0)
    df = df[df["split"] != "test"]
    kw = {"preset": "tiny", "lm_dir": None, "finetune": True, "progress": False}
    for name in ("kmer", "cnn"):
        fit_for(name, df, tmp_path / name, **kw)
        rec = json.loads((tmp_path / name / FIT_RECORD).read_text())
        del rec["key"]["amp"]  # the key as the eighth session wrote it: no precision, LM fields for all
        rec["key"].update(lm="/old/lm", lm_record="abc", finetune=True)
        (tmp_path / name / FIT_RECORD).write_text(json.dumps(rec))
    said = []
    fit_for("kmer", df, tmp_path / "kmer", resume=True, log=said.append, **kw)
    assert len(said) == 1 and "loaded the finished fit" in said[0]  # no torch, no precision: reused
    monkeypatch.setenv("GENOMIC_ULMFIT_AMP", "off")
    said.clear()
    fit_for("cnn", df, tmp_path / "cnn", resume=True, log=said.append, **kw)
    assert len(said) == 1 and "loaded the finished fit" in said[0]  # an fp32 run reuses the fp32 CNN
    monkeypatch.setenv("GENOMIC_ULMFIT_AMP", "bf16")
    said.clear()
    fit_for("cnn", df, tmp_path / "cnn", resume=True, log=said.append, **kw)
    assert said == []  # that CNN trained in fp32: refitted for a bf16 run
    assert json.loads((tmp_path / "cnn" / FIT_RECORD).read_text())["key"]["amp"] == "bf16"


def test_older_ulmfit_variant_records_are_read_without_what_the_variant_does_not_use():
    from genomic_ulmfit.evaluation.benchmark import _current_key

    key = {"model": "ulmfit:nolm", "lm": "/old/lm", "lm_record": "abc", "finetune": True, "amp": "bf16"}
    assert _current_key(key) == {"model": "ulmfit:nolm", "lm": None, "lm_record": None, "finetune": None, "amp": "bf16"}
    noft = _current_key({"model": "ulmfit:noft", "lm": "/lm", "lm_record": "abc", "finetune": True, "amp": "bf16"})
    assert noft["lm"] == "/lm" and noft["finetune"] is None  # noft never fine-tunes: either flag is the same fit
    # before, ulmfit:scratch without fine-tuning used the genome LM as its encoder: never the same fit as now
    old_scratch = {"model": "ulmfit:scratch", "lm": "/lm", "lm_record": "abc", "finetune": False, "amp": "bf16"}
    assert _current_key(old_scratch) == old_scratch
    assert _current_key({**old_scratch, "finetune": True})["lm"] is None


def test_ulmfit_scratch_trains_its_own_lm_even_without_fine_tuning(dataset, tmp_path):
    df = assign_splits(load_dataset(dataset), seed=0)
    df = df[df["split"] != "test"]
    fit_for("ulmfit:scratch", df, tmp_path / "run", preset="tiny", lm_dir=None, finetune=False, progress=False)
    lm_meta = json.loads((tmp_path / "run" / "lm_finetuned" / "lm.json").read_text())
    assert lm_meta.get("pretrained_from") is None  # trained from scratch on the training sequences


def test_fit_for_continues_a_stopped_ulmfit_fit_where_it_stopped(dataset, tmp_path, monkeypatch):
    import genomic_ulmfit.training.loop as loop
    from genomic_ulmfit.evaluation.benchmark import FIT_RECORD, FIT_STARTED

    df = assign_splits(load_dataset(dataset), seed=0)
    df = df[df["split"] != "test"]
    seqs = df["sequence"].tolist()[:20]
    kw = dict(preset="tiny", lm_dir=None, progress=False)
    whole, _ = fit_for("ulmfit", df, tmp_path / "whole", **kw)
    ran, real = [], loop.fit_one_cycle

    def stopping(*args, stage_name, **k):
        if stage_name == "stage2" and "stop" in ran:
            raise KeyboardInterrupt  # as if the process was killed when the last (tiny: second) stage began
        result = real(*args, stage_name=stage_name, **k)
        ran.append((stage_name, result.skipped))
        return result

    monkeypatch.setattr(loop, "fit_one_cycle", stopping)
    ran.append("stop")
    with pytest.raises(KeyboardInterrupt):
        fit_for("ulmfit", df, tmp_path / "run", **kw)
    assert not (tmp_path / "run" / FIT_RECORD).exists() and (tmp_path / "run" / FIT_STARTED).exists()
    assert ran[1:] == [("finetune", False), ("stage1", False)]
    done_before = sum(json.loads(line)["seconds"] for f in ("metrics.jsonl", "lm_finetuned/metrics.jsonl")
                      for line in (tmp_path / "run" / f).read_text().splitlines())
    ran.clear()
    lines = []
    model, seconds = fit_for("ulmfit", df, tmp_path / "run", resume=True, log=lines.append, **kw)
    assert ran == [("finetune", True), ("stage1", True), ("stage2", False)]
    assert any("continuing the stopped fit" in line for line in lines)
    record = json.loads((tmp_path / "run" / FIT_RECORD).read_text())
    assert record["resumed"] is True and seconds > done_before > 0  # the stopped run's epochs are counted
    np.testing.assert_allclose(model.predict_proba(seqs), whole.predict_proba(seqs), atol=1e-6)  # as if never stopped
    ran.clear()
    (tmp_path / "run" / FIT_RECORD).unlink()
    fit_for("ulmfit", df, tmp_path / "run", seed=1, resume=True, **kw)  # another key: nothing is continued
    assert ran == [("finetune", False), ("stage1", False), ("stage2", False)]
    # A fit stopped in its LM fine-tune, in a directory holding another fit's finished stages: on
    # resume those stages must not pass for its own (a fresh fit clears them when it starts).
    ran.clear()
    (tmp_path / "run" / FIT_RECORD).unlink()
    ran.append("stop-finetune")

    def stop_in_finetune(*args, stage_name, **k):
        if stage_name == "finetune" and "stop-finetune" in ran:
            raise KeyboardInterrupt
        result = real(*args, stage_name=stage_name, **k)
        ran.append((stage_name, result.skipped))
        return result

    monkeypatch.setattr(loop, "fit_one_cycle", stop_in_finetune)
    with pytest.raises(KeyboardInterrupt):
        fit_for("ulmfit", df, tmp_path / "run", seed=2, **kw)
    assert not (tmp_path / "run" / "checkpoints").exists()
    ran.clear()
    fit_for("ulmfit", df, tmp_path / "run", seed=2, resume=True, **kw)
    assert ran == [("finetune", False), ("stage1", False), ("stage2", False)]


def test_fit_for_refuses_a_directory_another_live_process_is_fitting(dataset, tmp_path):
    import socket
    import subprocess
    import sys

    from genomic_ulmfit.evaluation.benchmark import FIT_RECORD, FIT_STARTED

    df = assign_splits(load_dataset(dataset), seed=0)
    df = df[df["split"] != "test"]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = {"key": None, "host": socket.gethostname(), "pid": other.pid}
        (tmp_path / FIT_STARTED).write_text(json.dumps(started))
        with pytest.raises(ConfigError, match=f"process {other.pid} is fitting this model now"):
            fit_for("kmer", df, tmp_path, preset="tiny", lm_dir=None, progress=False, resume=True)
        assert (tmp_path / FIT_STARTED).exists() and not (tmp_path / FIT_RECORD).exists()
        (tmp_path / FIT_STARTED).write_text(json.dumps({**started, "host": "another-machine"}))
        fit_for("kmer", df, tmp_path, preset="tiny", lm_dir=None, progress=False)  # another host: not checked
    finally:
        other.kill()
        other.wait()
    assert (tmp_path / FIT_RECORD).exists() and not (tmp_path / FIT_STARTED).exists()  # gone once the fit is done
    (tmp_path / FIT_STARTED).write_text(json.dumps(started))  # the process has ended: a stale marker is ignored
    fit_for("kmer", df, tmp_path, preset="tiny", lm_dir=None, progress=False)
    assert not (tmp_path / FIT_STARTED).exists()
