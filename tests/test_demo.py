"""The embedded demo end to end at its smallest size; every number it shows is a result of the run."""

from __future__ import annotations

import contextlib
import io
import json

import pandas as pd
import pytest

from genomic_ulmfit.data.dataset import load_dataset
from genomic_ulmfit.data.stats import dataset_stats
from genomic_ulmfit.demo import run_demo
from genomic_ulmfit.evaluation.report import metrics_rows


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(io.StringIO()) as cap:
        mp.setenv("COLUMNS", "250")  # rich tables at full width
        summary = run_demo(out, n_species=2, per_class=60, preset="tiny", genome_length=60_000, progress=False,
                           log=lines.append)
    return {"out": out, "summary": summary, "log": lines, "stdout": cap.getvalue()}


@pytest.mark.slow
def test_demo_runs_end_to_end(demo):
    out, summary = demo["out"], demo["summary"]
    assert set(summary) >= {"results", "cross_species", "dataset", "report", "seconds"}
    assert (out / "benchmark" / "report.md").is_file() and (out / "benchmark" / "report.html").is_file()
    assert (out / "lm_pretrained" / "lm.json").is_file()
    for species in ("SimHuman", "SimMouse"):
        assert (out / "benchmark" / "runs" / "ulmfit" / species / "lm_finetuned" / "lm.json").is_file()
        assert (out / "benchmark" / "runs" / "ensemble" / species / "model.json").is_file()
    results = summary["results"]
    expected = {(m, s) for m in ("kmer", "cnn", "gkm", "ulmfit", "ensemble") for s in ("SimHuman", "SimMouse", "all")}
    assert set(zip(results["model"], results["species"])) == expected
    # The fine-tuned LMs start from the demo's genome LM.
    ft = json.loads((out / "benchmark" / "runs" / "ulmfit" / "SimHuman" / "lm_finetuned" / "lm.json").read_text())
    assert ft["pretrained_from"] == str(out / "lm_pretrained")


@pytest.mark.slow
def test_demo_numbers_are_those_of_results_tsv(demo):
    results = demo["summary"]["results"]
    on_disk = pd.read_csv(demo["out"] / "benchmark" / "results.tsv", sep="\t", keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(on_disk.drop(columns="note"), results.drop(columns="note"), check_dtype=False)
    # The printed table shows exactly these numbers, row by row.
    printed = demo["stdout"].splitlines()
    header, rows = metrics_rows(on_disk)
    for row in rows:
        model, species, *cells = row
        match = [line for line in printed if f" {model} " in line and f" {species} " in line]
        assert len(match) == 1, (model, species)
        for cell in cells:
            assert cell in match[0], (model, species, cell)
    md = (demo["out"] / "benchmark" / "report.md").read_text()
    assert all(cell in md for cell in rows[0][2:])


@pytest.mark.slow
def test_demo_cross_species_and_logged_facts(demo):
    matrix = demo["summary"]["cross_species"]
    tsv = pd.read_csv(demo["out"] / "cross_species" / "cross_species.tsv", sep="\t", index_col=0)
    assert tsv.index.tolist() == ["SimHuman", "SimMouse", "pooled"]
    pd.testing.assert_frame_equal(tsv, matrix.round(4), check_names=False, atol=1e-9)
    assert matrix.round(3).to_string() in demo["log"]
    # The GC-only floor it reports is computed from the dataset it wrote.
    floors = dataset_stats(load_dataset(demo["summary"]["dataset"]))["gc_auroc"]
    gc_line = next(line for line in demo["log"] if "GC-content-only AUROC" in line)
    for species, g in floors.items():
        assert f"{species} {g['auroc']:.3f}" in gc_line
