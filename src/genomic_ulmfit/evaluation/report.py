"""Markdown + self-contained HTML reports of a run, with published numbers shown beside ours.

The published AUROCs come from other papers' own train/test splits: they are shown in the same
species columns for orientation, clearly marked, and never mixed into our rows.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genomic_ulmfit.errors import ConfigError, InputError
from genomic_ulmfit.utils import write_text_atomic

COHN_2018 = (
    "Cohn D, Zuk O, Kaplan T (2018), Enhancer identification using transfer and adversarial "
    "deep learning of DNA sequences (CNN trained per species and on 17 species pooled)"
)
GENOMIC_ULMFIT = "Heyer K, Genomic-ULMFiT (github.com/kheyer/Genomic-ULMFiT), Cohn enhancer data results"

PUBLISHED: dict[str, dict[str, Any]] = {
    "Cohn CNN (per species)": {
        "citation": COHN_2018,
        "auroc": {"Human": 0.80, "Mouse": 0.78, "Dog": 0.77, "Opossum": 0.72},
    },
    "Cohn CNN (pooled 17 species)": {
        "citation": COHN_2018,
        "auroc": {"Human": 0.86, "Mouse": 0.88, "Dog": 0.87, "Opossum": 0.87},
    },
    "Genomic-ULMFiT 4-mer": {
        "citation": GENOMIC_ULMFIT,
        "auroc": {"Human": 0.804, "Mouse": 0.876, "Dog": 0.771, "Opossum": 0.786},
    },
    "Genomic-ULMFiT 5-mer": {
        "citation": GENOMIC_ULMFIT,
        "auroc": {"Human": 0.812, "Mouse": 0.871, "Dog": 0.773, "Opossum": 0.787},
    },
    "Genomic-ULMFiT 3-mer": {
        "citation": GENOMIC_ULMFIT,
        "auroc": {"Human": 0.819, "Mouse": 0.875, "Dog": 0.788, "Opossum": 0.798},
    },
}
PUBLISHED_MARK = ("published for the Cohn et al. liver enhancer data of that species (matched by species name "
                  "only), on their split: not comparable split-for-split, and not at all if this data set is "
                  "another one")

_METRIC_COLUMNS = (
    ("auroc", "AUROC"),
    ("auprc", "AUPRC"),
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("specificity", "Specificity"),
    ("mcc", "MCC"),
)
_REQUIRED = ("model", "species", "auroc")


# --------------------------------------------------------------------------------------------
# Small formatting helpers
# --------------------------------------------------------------------------------------------


def published_auroc(species: str, published: Mapping[str, Mapping[str, Any]] = PUBLISHED) -> dict[str, float]:
    """Published AUROC per model for ``species`` (case-insensitive exact name; ``Sim*`` never matches)."""
    key = str(species).strip().lower()
    if not key or key.startswith("sim"):
        return {}
    out = {}
    for model, entry in published.items():
        for name, value in entry["auroc"].items():
            if name.lower() == key:
                out[model] = float(value)
    return out


def _num(v: Any, fmt: str = ".3f") -> str:
    """A float formatted with ``fmt``; ``n/a`` for None/NaN."""
    if v is None:
        return "n/a"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "n/a" if math.isnan(f) else format(f, fmt)


def _published_num(v: float | None) -> str:
    """A published value with the precision it was published with (0.80 stays "0.80")."""
    if v is None:
        return "n/a"
    return format(v, ".2f") if round(v, 2) == v else format(v, ".3f")


def _auroc_ci(row: Mapping[str, Any]) -> str:
    """``"0.812 [0.801, 0.823]"`` or just the AUROC when the CI is missing."""
    point = _num(row.get("auroc"))
    lo, hi = row.get("auroc_lo"), row.get("auroc_hi")
    if point == "n/a" or _num(lo) == "n/a" or _num(hi) == "n/a":
        return point
    return f"{point} [{_num(lo)}, {_num(hi)}]"


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain Markdown table; every row has ``len(header)`` cells (``|`` in cells is escaped)."""
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [_md_cell(c) for c in row] + [""] * (len(header) - len(row))
        lines.append("| " + " | ".join(cells[: len(header)]) + " |")
    return "\n".join(lines)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[Any]], classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _check_results(results) -> None:
    missing = [c for c in _REQUIRED if c not in results.columns]
    if missing:
        raise InputError(
            f"results table lacks column(s) {', '.join(missing)}; it needs model, species, auroc"
        )
    if len(results) == 0:
        raise InputError("results table is empty; evaluate at least one model before writing a report")


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def auroc_matrix(
    results, published: Mapping[str, Mapping[str, Any]] = PUBLISHED
) -> tuple[list[str], list[list[str]], list[bool]]:
    """Models as rows, species as columns, cells ``"AUROC [lo, hi]"``; then published rows.

    Returns
    -------
    header, rows, is_published (one flag per row). Published rows appear only when at least
    one of our species has a published number; their other cells read "n/a".
    """
    species = list(dict.fromkeys(results["species"].astype(str)))
    models = list(dict.fromkeys(results["model"].astype(str)))
    keys = results["model"].astype(str) + " / " + results["species"].astype(str)
    if keys.duplicated().any():  # one cell each: a second row would silently replace the first
        raise ConfigError(f"results hold {keys[keys.duplicated()].iloc[0]} more than once; give each model "
                          "a distinct name")
    header = ["Model", *species]
    rows: list[list[str]] = []
    for model in models:
        sub = results[results["model"].astype(str) == model]
        by_species = {str(r["species"]): r for r in sub.to_dict("records")}
        rows.append([model, *(_auroc_ci(by_species[s]) if s in by_species else "n/a" for s in species)])
    flags = [False] * len(rows)
    per_species = {s: published_auroc(s, published) for s in species}
    for name in published:
        if any(name in per_species[s] for s in species):
            rows.append([f"{name} †", *(_published_num(per_species[s].get(name)) for s in species)])
            flags.append(True)
    return header, rows, flags


def metrics_rows(results) -> tuple[list[str], list[list[str]]]:
    """The full metrics table: one row per model x species."""
    header = ["Model", "Species", "n test", *(label for _, label in _METRIC_COLUMNS)]
    has_time = "train_seconds" in results.columns
    has_note = "note" in results.columns
    if has_time:
        header.append("Train s")
    if has_note:
        header.append("Note")
    rows = []
    for r in results.to_dict("records"):
        n_test = r.get("n_test")
        row = [str(r["model"]), str(r["species"]), str(int(float(n_test))) if _is_int(n_test) else "n/a"]
        row += [_auroc_ci(r)] + [_num(r.get(key)) for key, _ in _METRIC_COLUMNS[1:]]
        if has_time:
            row.append(_num(r.get("train_seconds"), ".1f"))
        if has_note:
            note = r.get("note")
            row.append("" if note is None or (isinstance(note, float) and math.isnan(note)) else str(note))
        rows.append(row)
    return header, rows


def _is_int(v: Any) -> bool:
    try:
        return v is not None and not math.isnan(float(v)) and float(v) == int(float(v))
    except (TypeError, ValueError):
        return False


def format_table(results) -> str:
    """The full metrics table as plain Markdown (no rich), e.g. for logs and README snippets."""
    _check_results(results)
    header, rows = metrics_rows(results)
    return md_table(header, rows)


def print_results_table(results, console=None, title: str = "Results") -> None:
    """Print the full metrics table with rich (for the CLI)."""
    from rich.console import Console
    from rich.table import Table

    _check_results(results)
    header, rows = metrics_rows(results)
    table = Table(title=title, show_lines=False)
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i < 2 or h == "Note" else "right", no_wrap=h != "Note")
    for row in rows:
        table.add_row(*row)
    (console or Console()).print(table)


def _flatten(info: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested run info as ``("versions.torch", "2.1")`` pairs."""
    out = []
    for k, v in info.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out += _flatten(v, key + ".")
        elif isinstance(v, float):
            out.append((key, f"{v:.4g}"))
        elif isinstance(v, (list, tuple)):
            out.append((key, ", ".join(map(str, v))))
        else:
            out.append((key, str(v)))
    return out


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:0.3em 0.6em;text-align:right}
th:first-child,td:first-child{text-align:left}
thead{background:#f0f0f0}
tr.published{color:#666;font-style:italic;background:#fafafa}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
.small{font-size:0.85em;color:#555}
"""


def write_report(
    results,
    out_dir: str | os.PathLike,
    *,
    title: str = "genomic-ulmfit report",
    plots: Mapping[str, str | os.PathLike] | None = None,
    notes: Sequence[str] = (),
    run_info: Mapping[str, Any] | None = None,
    published: Mapping[str, Mapping[str, Any]] = PUBLISHED,
) -> dict[str, Path]:
    """Write ``report.md`` and a self-contained ``report.html`` to ``out_dir``.

    Parameters
    ----------
    results : pandas.DataFrame
        Columns model, species, auroc (required) and n_test, auroc_lo, auroc_hi, auprc, accuracy,
        precision, recall, specificity, mcc, train_seconds, note (optional).
    out_dir : str or Path
    title : str
    plots : dict name -> PNG path relative to ``out_dir`` (or absolute)
        Linked from the Markdown, embedded as base64 in the HTML.
    notes : list of str
        Free-text remarks listed at the end.
    run_info : dict
        Dataset hash, preset, seed, versions, wall times...; nested dicts are flattened.
    published : dict, default :data:`PUBLISHED`
        ``{name: {"citation": str, "auroc": {species: value}}}``.

    Returns
    -------
    ``{"markdown": path, "html": path}``.
    """
    _check_results(results)
    out_dir = Path(out_dir)
    plots = dict(plots or {})
    plot_files = {n: Path(rel) if Path(rel).is_absolute() else out_dir / rel for n, rel in plots.items()}
    for name, p in plot_files.items():
        if not p.is_file():
            raise InputError(f"{p}: plot {name!r} not found; write the PNG before the report")
    info = _flatten(run_info or {})
    auc_header, auc_rows, flags = auroc_matrix(results, published)
    met_header, met_rows = metrics_rows(results)
    cited = [n for n, f in zip((r[0].removesuffix(" †") for r in auc_rows), flags, strict=True) if f]
    citations = list(dict.fromkeys(published[n].get("citation", "") for n in cited))

    # ---- Markdown
    md = [f"# {title}", ""]
    if info:
        md += ["## Run", "", md_table(["Item", "Value"], info), ""]
    md += ["## AUROC with 95% bootstrap CI", "", md_table(auc_header, auc_rows), ""]
    if cited:
        md += [f"† {PUBLISHED_MARK}. Sources: " + "; ".join(citations) + ".", ""]
    else:
        md += ["No published numbers exist for these species names (only Human, Mouse, Dog, Opossum).", ""]
    md += ["## All metrics", "", md_table(met_header, met_rows), ""]
    md += ["Thresholded metrics use P(enhancer) >= 0.5.", ""]
    if plots:
        md += ["## Figures", ""]
        for name, rel in plots.items():
            md += [f"### {name}", "", f"![{name}]({Path(rel).as_posix()})", ""]
    if notes:
        md += ["## Notes", "", *(f"- {n}" for n in notes), ""]

    # ---- HTML
    esc = html.escape
    h = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title><style>{_CSS}</style></head><body>',
        f"<h1>{esc(title)}</h1>",
    ]
    if info:
        h += ["<h2>Run</h2>", _html_table(["Item", "Value"], info)]
    h += [
        "<h2>AUROC with 95% bootstrap CI</h2>",
        _html_table(auc_header, auc_rows, ["published" if f else "" for f in flags]),
    ]
    if cited:
        h.append(f'<p class="small">† {esc(PUBLISHED_MARK)}. Sources: {esc("; ".join(citations))}.</p>')
    else:
        h.append('<p class="small">No published numbers exist for these species names.</p>')
    h += [
        "<h2>All metrics</h2>",
        _html_table(met_header, met_rows),
        '<p class="small">Thresholded metrics use P(enhancer) &gt;= 0.5.</p>',
    ]
    if plots:
        h.append("<h2>Figures</h2>")
        for name, p in plot_files.items():
            data = base64.b64encode(p.read_bytes()).decode("ascii")
            h += [f"<h3>{esc(name)}</h3>", f'<img alt="{esc(name)}" src="data:image/png;base64,{data}">']
    if notes:
        h += ["<h2>Notes</h2>", "<ul>", *(f"<li>{esc(n)}</li>" for n in notes), "</ul>"]
    h.append("</body></html>")

    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    write_text_atomic(md_path, "\n".join(md))
    write_text_atomic(html_path, "\n".join(h) + "\n")
    return {"markdown": md_path, "html": html_path}
