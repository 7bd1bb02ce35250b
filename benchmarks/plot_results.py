"""Figures for RESULTS.md: AUROC with 95% CI of every model on the Cohn human test set, the
cross-validation AUROC (mean ± sd over folds) on every shared data set, and the genome LM's
validation loss / accuracy over its pretraining runs.

Usage: .venv/bin/python benchmarks/plot_results.py [WORK_DIR] [--out benchmarks/figures/auroc.png]
           [--lm-root ~/.cache/genomic-ulmfit/lm] [--lm-out benchmarks/figures/lm.png]
Reads what benchmarks/real_data.sh wrote into WORK_DIR (default ~/.cache/genomic-ulmfit/results)
and the LM runs of benchmarks/build_lm.sh. Every point drawn is also kept in a TSV beside its figure
(`auroc_holdout.tsv`, `auroc_cv.tsv`, `lm.tsv`, with the output it came from): a point whose output
is gone (an earlier machine's cache) is carried over from that file and drawn hollow / hatched, so a
redraw on a new machine neither drops nor silently re-dates earlier measurements.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

# (step, test label in its metrics.json → figure label): the holdout outputs of benchmarks/real_data.sh.
# "{lm:RUN}" in a figure label becomes the genome LM that the ULMFiT fit in WORK/RUN used (see lm_tag).
R_U = "{lm:cohn_recipe/runs/ulmfit}"
HOLDOUTS = [
    ("cohn_recipe", {"kmer": "kmer", "cnn": "cnn", "gkm": "gkm", "ulmfit": f"ulmfit ({R_U})",
                     "ensemble": f"ensemble of the four ({R_U})"}),
    # the recipe (`holdout --models kmer,cnn,gkm,ulmfit`) on the same split with a named LM (thirteenth
    # and fourteenth sessions: copies of one run directory, only ULMFiT refitted)
    *((f"cohn_recipe4_{n}", {"kmer": "kmer", "cnn": "cnn", "gkm": "gkm",
                             "ulmfit": f"ulmfit ({{lm:cohn_recipe4_{n}/runs/ulmfit}})",
                             "ensemble": f"ensemble of the four ({{lm:cohn_recipe4_{n}/runs/ulmfit}})"})
      for n in ("24m", "48m")),
    ("cohn_ulmfit72", {"ulmfit": "ulmfit ({lm:cohn_ulmfit72/runs/ulmfit})"}),
    ("cohn_ablations", {"ulmfit-noft": "ulmfit-noft ({lm:cohn_ablations/runs/ulmfit-noft})", "ulmfit-nolm": "ulmfit-nolm",
                        "ulmfit-scratch": "ulmfit-scratch"}),
    ("cohn_noft48", {"ulmfit-noft": "ulmfit-noft ({lm:cohn_noft48/runs/ulmfit-noft})"}),
    ("cohn_comp", {"ulmfit-comp": "ulmfit-comp ({lm:cohn_comp/runs/ulmfit-comp})"}),
    ("cohn_gkm", {"gkm": "gkm"}),
    # outside knowledge in the k-mer LR and gkm-SVM: genome copy numbers (24th session), JASPAR motifs (25th)
    ("cohn_recipe_copies", {"kmer-copies": "kmer:copies", "gkm-copies": "gkm:copies",
                            "ensemble": "recipe with :copies ({lm:cohn_recipe_copies/runs/ulmfit})"}),
    ("cohn_recipe_jaspar", {"kmer-copies+motifs": "kmer:copies+motifs", "gkm-copies+motifs": "gkm:copies+motifs",
                            "ensemble": "recipe with :copies+motifs ({lm:cohn_recipe_jaspar/runs/ulmfit})"}),
]
LM_RUNS = {  # benchmarks/build_lm.sh, in order; each run continues the one before
    "cpu preset, 4.2 M parameters": ["primate-cpu-k4s2", "primate-cpu-k4s2-24m", "primate-cpu-k4s2-48m",
                                     "primate-cpu-k4s2-72m", "primate-cpu-k4s2-96m"],
    "paper-4mer size, 20 M parameters (--paper)": ["primate-paper-k4s2", "primate-paper-k4s2-24m",
                                                    "primate-paper-k4s2-48m"],
}
# (data set, cv step, {model in its cv_summary.tsv → figure label}; models not named are left out)
# A later entry's (data set, model) replaces an earlier one's: the *_ulmfit runs repeat the k-mer LR
# and CNN on the same folds and their ensemble has ULMFiT in it.
G = {"kmer": "kmer", "cnn-modern": "cnn-modern", "gkm": "gkm"}
U = {"kmer": "kmer", "cnn-modern": "cnn-modern", "ulmfit": "ulmfit", "ensemble": "ensemble (k-mer + CNN + ULMFiT)"}
CVS = [
    ("Cohn human", "cohn_cv", {"kmer": "kmer", "cnn-cohn": "cnn-cohn", "cnn-modern": "cnn-modern"}),
    ("Cohn human", "cohn_cv_ulmfit", U),
    ("iEnhancer", "ienhancer_cv_ulmfit", U),
    ("NHLF", "nhlf_cv", {"kmer": "kmer", "cnn-modern": "cnn-modern"}),
    ("NHLF", "nhlf_cv_ulmfit", U),
    ("VISTA", "vista_cv", {"kmer": "kmer", "cnn-modern": "cnn-modern"}),
    ("VISTA", "vista_cv_ulmfit", U),
    # the native gkm-SVM (twelfth session), same folds (its k-mer LR and CNN reproduce the rows above);
    # its ensembles have no ULMFiT
    ("Cohn human", "cohn_cv_gkm", {**G, "ensemble": "ensemble (k-mer + CNN + gkm)"}),
    ("iEnhancer", "ienhancer_cv_gkm", {**G, "ensemble": "ensemble (k-mer + CNN + gkm)"}),
    ("NHLF", "nhlf_cv_gkm", {**G, "ensemble": "ensemble (k-mer + CNN + gkm)"}),
    ("VISTA", "vista_cv_gkm", {**G, "ensemble": "ensemble (k-mer + gkm)"}),
    # genome copy numbers (24th session) and JASPAR motif scores (25th), same folds
    *((data, f"{step}_cv_copies", {"kmer-copies": "kmer:copies", "gkm-copies": "gkm:copies"})
      for data, step in (("Cohn human", "cohn"), ("iEnhancer", "ienhancer"), ("NHLF", "nhlf"), ("VISTA", "vista"))),
    *((data, f"{step}_cv_jaspar", {"kmer-motifs": "kmer:motifs", "kmer-copies+motifs": "kmer:copies+motifs",
                                   "gkm-copies+motifs": "gkm:copies+motifs"})
      for data, step in (("Cohn human", "cohn"), ("iEnhancer", "ienhancer"), ("NHLF", "nhlf"), ("VISTA", "vista"))),
]


# (step, model label in its eval/metrics.json → figure label): the evaluate outputs on the Cohn test split
EVALS = [
    ("cohn_gkmsvm", {"gkmsvm": "gkm-SVM (gkmsvm-lite)"}),
    ("cohn_ulmfit48_seed0", {"cohn_ulmfit48_seed0/runs/ulmfit": "ulmfit ({lm:cohn_ulmfit48_seed0/runs/ulmfit})",
                             "ensemble": "ensemble k-mer + CNN + ULMFiT ({lm:cohn_ulmfit48_seed0/runs/ulmfit})"}),
    ("cohn_3mer", {"cohn_3mer/runs/ulmfit": "ulmfit 3-mer/1 (16M LM)"}),
]


def _test_metrics(work: Path, step: str, evaluated: bool) -> dict[str, dict]:
    """Test metrics per model label of one step: its holdout ``metrics.json`` or, when
    ``evaluated``, its ``eval/metrics.json``; empty when the step has not been run."""
    f = work / step / ("eval" if evaluated else "") / "metrics.json"
    if not f.is_file():
        return {}
    meta = json.loads(f.read_text())
    return {r["model"]: r for r in meta["results"]} if evaluated else meta["test_metrics"]


def _source(path: Path, name: str) -> str:
    """``"name (YYYY-MM-DD)"``: where a point came from and when that output was written."""
    return f"{name} ({datetime.date.fromtimestamp(path.stat().st_mtime)})"


def carry_over(new: pd.DataFrame, table: Path, keys: list[str]) -> pd.DataFrame:
    """``new`` points plus those in ``table`` (an earlier draw's) whose ``keys`` are not in ``new``,
    marked ``carried``; the union is written back to ``table``. Earlier points stay in the figure
    when their outputs are gone, with the source they were measured from."""
    new = new.assign(carried=False)
    if table.is_file():
        old = pd.read_csv(table, sep="\t", keep_default_na=False, na_values=[""])
        if len(new):
            seen = set(map(tuple, new[keys].astype(str).to_numpy()))
            old = old[[tuple(k) not in seen for k in old[keys].astype(str).to_numpy()]]
        # infer_objects: concatenated to an empty ``new``, float columns would stay object (unformatted)
        new = pd.concat([new, old.assign(carried=True)], ignore_index=True).infer_objects()
    if len(new):
        table.parent.mkdir(parents=True, exist_ok=True)
        new.drop(columns="carried").to_csv(table, sep="\t", index=False, float_format="%.4f")
    return new


def lm_tag(work: Path, run: str) -> str:
    """``"48M LM"``: the genome LM that the ULMFiT fit in ``work/run`` used (its ``fit.json`` key),
    by the tokens it was pretrained on (its directory name when its ``lm.json`` is gone)."""
    from genomic_ulmfit.training.lm import LM_JSON, read_lm_meta, total_tokens_seen

    try:
        lm = json.loads((work / run / "fit.json").read_text())["key"]["lm"]
    except (OSError, ValueError, KeyError, TypeError):
        return "LM unknown"
    if lm is None:
        return "no genome LM"
    if not (Path(lm) / LM_JSON).is_file():
        return Path(lm).name
    return f"{total_tokens_seen(read_lm_meta(lm)) / 1e6:.0f}M LM"


def _label(work: Path, label: str) -> str:
    return re.sub(r"\{lm:([^}]+)\}", lambda m: lm_tag(work, m.group(1)), label)


# the columns of the points files (and of the frames below), each point with the output it came from
HOLDOUT_COLUMNS = ["model", "auroc", "lo", "hi", "source"]
CV_COLUMNS = ["data", "model", "auroc_mean", "auroc_sd", "source"]
LM_COLUMNS = ["size", "run", "tokens", "valid_loss", "valid_accuracy", "cohn_loss", "cohn_accuracy", "source"]


def holdout_points(work: Path) -> pd.DataFrame:
    rows = [
        {"model": _label(work, names[label]), "auroc": m["auroc"], "lo": m["auroc_lo"], "hi": m["auroc_hi"],
         "source": _source(work / step, step)}
        for steps, evaluated in ((HOLDOUTS, False), (EVALS, True))
        for step, names in steps
        for label, m in _test_metrics(work, step, evaluated).items()
        if label in names
    ]
    return pd.DataFrame(rows, columns=HOLDOUT_COLUMNS).drop_duplicates("model", keep="last")


def cv_points(work: Path) -> pd.DataFrame:
    parts = []
    for name, step, names in CVS:
        f = work / step / "cv_summary.tsv"
        if f.is_file():
            t = pd.read_csv(f, sep="\t").assign(data=name, source=_source(f, step))
            t = t[t["model"].isin(names)]
            parts.append(t.assign(model=t["model"].map(names))[CV_COLUMNS])
    if not parts:
        return pd.DataFrame(columns=CV_COLUMNS)
    return pd.concat(parts, ignore_index=True).drop_duplicates(["data", "model"], keep="last")


def lm_points(lm_root: Path, work: Path) -> pd.DataFrame:
    """Per finished LM run: tokens seen in all, its own valid loss/accuracy (held-out genome pieces)
    and the loss/accuracy on the Cohn human valid sequences (the same 522 for every run)."""
    from genomic_ulmfit.training.lm import lm_accuracy, read_lm_meta, total_tokens_seen

    cohn = work / "cohn_human.parquet"
    valid = pd.read_parquet(cohn).query("split == 'valid'")["sequence"].tolist() if cohn.is_file() else []
    rows = []
    for size, name in ((size, name) for size, names in LM_RUNS.items() for name in names):
        if not (lm_root / name / "lm.json").is_file():
            continue
        meta = read_lm_meta(lm_root / name)
        row = {"size": size, "run": name, "tokens": total_tokens_seen(meta) / 1e6,
               "valid_loss": meta["final"]["valid_loss"], "valid_accuracy": meta["final"]["valid_accuracy"],
               "cohn_loss": None, "cohn_accuracy": None, "source": _source(lm_root / name / "lm.json", name)}
        if valid:
            acc = lm_accuracy(lm_root / name, valid)
            row.update(cohn_loss=acc["loss"], cohn_accuracy=acc["accuracy"])
        rows.append(row)
    return pd.DataFrame(rows, columns=LM_COLUMNS)


def plot_lm(lm: pd.DataFrame, out: str) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, metric, label in ((axes[0], "loss", "next-token loss (nats)"), (axes[1], "accuracy", "next-token accuracy")):
        for (size, runs), colour in zip(lm.groupby("size", sort=False), ("tab:blue", "tab:orange"), strict=False):
            runs = runs.sort_values("tokens")
            ax.plot(runs["tokens"], runs[f"valid_{metric}"], "o--", c=colour, alpha=0.6,
                    label=f"{size}: held-out genome pieces (each run's own sample)")
            if runs[f"cohn_{metric}"].notna().any():
                ax.plot(runs["tokens"], runs[f"cohn_{metric}"], "s-", c=colour,
                        label=f"{size}: Cohn human valid sequences (522, fixed)")
            old = runs[runs["carried"]]
            ax.plot(old["tokens"], old[f"valid_{metric}"], "o", mfc="white", c=colour)
            ax.plot(old["tokens"], old[f"cohn_{metric}"], "s", mfc="white", c=colour)
        ax.set_xlabel("genome tokens seen (millions, 4-mer / stride 2)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=7)
    fig.suptitle("Primate genome LM: pretraining runs, each continuing the one before"
                 + ("\n(hollow: runs whose outputs are gone, carried over from lm.tsv)" if lm["carried"].any() else ""))
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(out, dpi=110)
    print(f"figure → {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", nargs="?", default=str(Path.home() / ".cache/genomic-ulmfit/results"))
    ap.add_argument("--out", default="benchmarks/figures/auroc.png")
    ap.add_argument("--lm-root", default=str(Path.home() / ".cache/genomic-ulmfit/lm"))
    ap.add_argument("--lm-out", default="benchmarks/figures/lm.png")
    a = ap.parse_args()
    work, out = Path(a.work), Path(a.out)
    ho = carry_over(holdout_points(work), out.with_name(out.stem + "_holdout.tsv"), ["model"])
    cv = carry_over(cv_points(work), out.with_name(out.stem + "_cv.tsv"), ["data", "model"])
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6), gridspec_kw={"width_ratios": [1, 1.3]})
    ax = axes[0]
    if len(ho):
        ho = ho.sort_values("auroc").reset_index(drop=True)
        for carried, part in ho.groupby("carried"):
            ax.errorbar(part["auroc"], part.index, xerr=[part["auroc"] - part["lo"], part["hi"] - part["auroc"]],
                        fmt="o", capsize=3, c="grey" if carried else "tab:blue", mfc="white" if carried else None,
                        label="outputs gone, carried over (auroc_holdout.tsv)" if carried else "outputs in WORK")
        ax.set_yticks(list(ho.index), ho["model"])
    ax.axvline(0.735, ls=":", c="grey", label="GC content only (0.735)")
    ax.axvline(0.819, ls="--", c="tab:red", label="published Genomic-ULMFiT 3-mer, 28k seqs (0.819)")
    ax.set_xlabel("AUROC [95% bootstrap CI]")
    ax.set_title("Cohn human: trained on 4,706, tested on 523")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.11), fontsize=8, ncol=2)
    ax = axes[1]
    if len(cv):
        models = list(dict.fromkeys(cv["model"]))
        datas = list(dict.fromkeys(cv["data"]))
        width = 0.8 / len(models)
        for i, m in enumerate(models):
            sub = cv[cv["model"] == m].set_index("data").reindex(datas)
            xs = [j + i * width for j in range(len(datas))]
            bars = ax.bar(xs, sub["auroc_mean"], width, yerr=sub["auroc_sd"], capsize=2, label=m, color=f"C{i}")
            for bar, carried in zip(bars, sub["carried"].eq(True), strict=True):
                if carried:
                    bar.set(hatch="///", alpha=0.6)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(datas))], datas)
        ax.set_ylim(0.45, 1.0)
        ax.set_ylabel("AUROC, mean ± sd over 5 folds")
        title = "5-fold CV (near-duplicates kept in one fold)"
        ax.set_title(title + ("\nhatched: outputs gone, carried over (auroc_cv.tsv)" if cv["carried"].any() else ""))
        ax.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.08))  # below: bars fill the axes
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"figure → {out}")
    lm_out = Path(a.lm_out)
    lm = carry_over(lm_points(Path(a.lm_root), work), lm_out.with_suffix(".tsv"), ["run"])
    if len(lm):
        print(lm.round(4).to_string(index=False))
        plot_lm(lm, a.lm_out)


if __name__ == "__main__":
    main()
