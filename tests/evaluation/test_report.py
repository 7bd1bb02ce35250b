"""Reports contain our rows, the published rows only for real species, embedded images, sane tables."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.evaluation.plots import plot_bar_ci
from genomic_ulmfit.evaluation.report import (
    PUBLISHED,
    PUBLISHED_MARK,
    format_table,
    print_results_table,
    published_auroc,
    write_report,
)


def _results(species=("Human", "mouse", "SimSpeciesA")) -> pd.DataFrame:
    rows = []
    for i, model in enumerate(("kmer", "ulmfit-3mer")):
        for j, sp in enumerate(species):
            auc = 0.75 + 0.02 * i + 0.01 * j
            rows.append(
                {
                    "model": model,
                    "species": sp,
                    "n_test": 1000 + j,
                    "auroc": auc,
                    "auroc_lo": auc - 0.02,
                    "auroc_hi": auc + 0.02,
                    "auprc": auc - 0.01,
                    "accuracy": 0.7,
                    "precision": 0.71,
                    "recall": 0.69,
                    "specificity": 0.72,
                    "mcc": 0.41,
                    "train_seconds": 12.5 * (i + 1),
                    "note": "pipe | in note" if j == 0 else "",
                }
            )
    return pd.DataFrame(rows)


def _md_tables(text: str) -> list[list[str]]:
    """Groups of consecutive Markdown table lines."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def _cells(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line)) - 1


def test_published_matching_is_exact_and_case_insensitive():
    assert published_auroc("Human")["Cohn CNN (per species)"] == 0.80
    assert published_auroc("OPOSSUM")["Genomic-ULMFiT 3-mer"] == 0.798
    assert published_auroc("mouse")["Cohn CNN (pooled 17 species)"] == 0.88
    for name in ("SimHuman", "Sim_Mouse", "Human2", "Homo sapiens", "all", ""):
        assert published_auroc(name) == {}
    assert set(published_auroc("Dog")) == set(PUBLISHED)


def test_write_report(tmp_path):
    results = _results()
    png = plot_bar_ci(results, tmp_path / "plots" / "auroc.png")
    paths = write_report(
        results,
        tmp_path,
        title="Test run",
        plots={"AUROC by species": "plots/auroc.png"},
        notes=["kmer is the k=1..6 baseline"],
        run_info={"seed": 0, "dataset_sha256": "abc123", "versions": {"torch": "2.13"}},
    )
    md, html = paths["markdown"].read_text(), paths["html"].read_text()
    assert paths["markdown"] == tmp_path / "report.md" and len(md) > 500 and len(html) > len(png.read_bytes())
    for text in (md, html):
        for needle in (
            "Test run",
            "kmer",
            "ulmfit-3mer",
            "Human",
            "mouse",
            "SimSpeciesA",
            "abc123",
            "versions.torch",
            PUBLISHED_MARK,
            "kmer is the k=1..6 baseline",
            "0.750 [0.730, 0.770]",
        ):
            assert needle in text, needle
        for name in PUBLISHED:
            assert name in text
    assert "](plots/auroc.png)" in md
    assert "data:image/png;base64," in html and "plots/auroc.png" not in html

    tables = _md_tables(md)
    assert len(tables) == 3  # run info, AUROC matrix, all metrics
    for table in tables:
        widths = {_cells(line) for line in table}
        assert len(widths) == 1, table
    auc_table = tables[1]
    header = auc_table[0]
    assert header.startswith("| Model | Human | mouse | SimSpeciesA |")
    cohn = next(line for line in auc_table if line.startswith("| Cohn CNN (per species)"))
    assert cohn.split("|")[2:5] == [" 0.80 ", " 0.78 ", " n/a "]  # Human, mouse, Sim -> n/a
    assert "| Genomic-ULMFiT 3-mer † | 0.819 | 0.875 | n/a |" in md
    assert len(tables[2]) == 2 + len(results)


def test_report_without_real_species_has_no_published_rows(tmp_path):
    paths = write_report(_results(species=("SimSpeciesA", "SimSpeciesB")), tmp_path, title="sim")
    md = paths["markdown"].read_text()
    assert "Cohn CNN" not in md and "Genomic-ULMFiT" not in md and "†" not in md
    assert "No published numbers" in md


def test_report_errors(tmp_path):
    with pytest.raises(InputError, match="plot 'x' not found"):
        write_report(_results(), tmp_path, title="t", plots={"x": "nope.png"})
    with pytest.raises(InputError, match="empty"):
        write_report(_results().iloc[:0], tmp_path, title="t")
    with pytest.raises(InputError, match="auroc"):
        write_report(_results().drop(columns="auroc"), tmp_path, title="t")
    twice = pd.concat([_results(), _results().iloc[:1]])  # a second kmer/Human row replaced the first's cell
    with pytest.raises(ConfigError, match="results hold kmer / Human more than once"):
        write_report(twice, tmp_path, title="t")
    assert not (tmp_path / "report.md").exists()


def test_format_table_and_rich_print():
    results = _results()
    results.loc[0, "auroc_lo"] = np.nan  # CI missing -> AUROC alone
    text = format_table(results)
    lines = text.splitlines()
    assert len(lines) == 2 + len(results)
    assert len({_cells(line) for line in lines}) == 1
    assert "| kmer | Human | 1000 | 0.750 |" in text
    console = Console(record=True, width=200)
    print_results_table(results, console)
    out = console.export_text()
    assert "ulmfit-3mer" in out and "SimSpeciesA" in out and "0.770 [0.750, 0.790]" in out
