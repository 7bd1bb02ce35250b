"""Figures for RESULTS.md: AUROC with 95% CI of every model on the Cohn human test set, the
cross-validation AUROC (mean ± sd over folds) on every shared data set, and the genome LM's
validation loss / accuracy over its pretraining runs.

Usage: .venv/bin/python benchmarks/plot_results.py [WORK_DIR] [--out benchmarks/figures/auroc.png]
           [--lm-root ~/.cache/genomic-ulmfit/lm] [--lm-out benchmarks/figures/lm.png]
Reads what benchmarks/real_data.sh wrote into WORK_DIR (default ~/.cache/genomic-ulmfit/results)
and the LM runs of benchmarks/build_lm.sh; parts that have not been run are left out.
"""

from __future__ import annotations

import argparse
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
    ("cohn_recipe", {"kmer": "kmer", "cnn": "cnn", "ulmfit": f"ulmfit ({R_U})", "ensemble": f"ensemble ({R_U})"}),
    ("cohn_ulmfit72", {"ulmfit": "ulmfit ({lm:cohn_ulmfit72/runs/ulmfit})"}),
    ("cohn_ablations", {"ulmfit-noft": "ulmfit-noft ({lm:cohn_ablations/runs/ulmfit-noft})", "ulmfit-nolm": "ulmfit-nolm",
                        "ulmfit-scratch": "ulmfit-scratch"}),
    ("cohn_noft48", {"ulmfit-noft": "ulmfit-noft ({lm:cohn_noft48/runs/ulmfit-noft})"}),
    ("cohn_comp", {"ulmfit-comp": "ulmfit-comp ({lm:cohn_comp/runs/ulmfit-comp})"}),
    ("cohn_gkm", {"gkm": "gkm", "ensemble": "ensemble (k-mer + CNN + gkm)"}),
]
LM_RUNS = {  # benchmarks/build_lm.sh, in order; each run continues the one before
    "cpu preset, 4.2 M parameters": ["primate-cpu-k4s2", "primate-cpu-k4s2-24m", "primate-cpu-k4s2-48m",
                                     "primate-cpu-k4s2-72m", "primate-cpu-k4s2-96m"],
    "paper-4mer size, 20 M parameters (--paper)": ["primate-paper-k4s2", "primate-paper-k4s2-24m",
                                                    "primate-paper-k4s2-48m"],
}
# (data set, cv step, {model in its cv_summary.tsv → figure label} or None for all models as they are)
# A later entry's (data set, model) replaces an earlier one's: the *_ulmfit runs repeat the k-mer LR
# and CNN on the same folds and their ensemble has ULMFiT in it.
CVS = [
    ("Cohn human", "cohn_cv", None),
    ("Cohn human", "cohn_cv_ulmfit", None),
    ("iEnhancer", "ienhancer_cv_ulmfit", None),
    ("iEnhancer", "ienhancer_cv_3mer", {"ulmfit": "ulmfit 3-mer/1", "ensemble": "ensemble (3-mer/1 ULMFiT)"}),
    ("NHLF", "nhlf_cv", None),
    ("NHLF", "nhlf_cv_ulmfit", None),
    ("VISTA", "vista_cv", None),
    ("VISTA", "vista_cv_ulmfit", None),
    # the native gkm-SVM (twelfth session), same folds; its ensembles have no ULMFiT
    ("Cohn human", "cohn_cv_gkm", {"gkm": "gkm", "ensemble": "ensemble (k-mer + CNN + gkm)"}),
    ("iEnhancer", "ienhancer_cv_gkm", {"gkm": "gkm", "ensemble": "ensemble (k-mer + CNN + gkm)"}),
    ("NHLF", "nhlf_cv_gkm", {"gkm": "gkm", "ensemble": "ensemble (k-mer + CNN + gkm)"}),
    ("VISTA", "vista_cv_gkm", {"gkm": "gkm", "ensemble": "ensemble (k-mer + gkm)"}),
]


# (step, model label in its eval/metrics.json → figure label): the evaluate outputs on the Cohn test split
EVALS = [
    ("cohn_gkmsvm", {"gkmsvm": "gkmsvm", "ensemble4": f"ensemble + gkm-SVM ({R_U})"}),
    ("cohn_ulmfit48_seed0", {"kmer": "kmer", "cnn": "cnn", "cohn_recipe/runs/ulmfit": f"ulmfit ({R_U})",
                             "cohn_ulmfit48_seed0/runs/ulmfit": "ulmfit ({lm:cohn_ulmfit48_seed0/runs/ulmfit})",
                             "ensemble": "ensemble ({lm:cohn_ulmfit48_seed0/runs/ulmfit})"}),
    ("cohn_3mer", {"cohn_3mer/runs/ulmfit": "ulmfit 3-mer/1 (16M LM)",
                   "cohn_3mer/ensemble": "ensemble + ulmfit 3-mer/1"}),
]


def _test_metrics(work: Path, step: str, evaluated: bool) -> dict[str, dict]:
    """Test metrics per model label of one step: its holdout ``metrics.json`` or, when
    ``evaluated``, its ``eval/metrics.json``; empty when the step has not been run."""
    f = work / step / ("eval" if evaluated else "") / "metrics.json"
    if not f.is_file():
        return {}
    meta = json.loads(f.read_text())
    return {r["model"]: r for r in meta["results"]} if evaluated else meta["test_metrics"]


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


def holdout_points(work: Path) -> pd.DataFrame:
    rows = [
        {"model": _label(work, names[label]), "auroc": m["auroc"], "lo": m["auroc_lo"], "hi": m["auroc_hi"]}
        for steps, evaluated in ((HOLDOUTS, False), (EVALS, True))
        for step, names in steps
        for label, m in _test_metrics(work, step, evaluated).items()
        if label in names
    ]
    return pd.DataFrame(rows).drop_duplicates("model", keep="last")


def cv_points(work: Path) -> pd.DataFrame:
    parts = []
    for name, step, names in CVS:
        f = work / step / "cv_summary.tsv"
        if f.is_file():
            t = pd.read_csv(f, sep="\t").assign(data=name)
            if names is not None:
                t = t[t["model"].isin(names)]
                t = t.assign(model=t["model"].map(names))
            parts.append(t)
    if not parts:
        return pd.DataFrame()
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
               "valid_loss": meta["final"]["valid_loss"], "valid_accuracy": meta["final"]["valid_accuracy"]}
        if valid:
            acc = lm_accuracy(lm_root / name, valid)
            row.update(cohn_loss=acc["loss"], cohn_accuracy=acc["accuracy"])
        rows.append(row)
    return pd.DataFrame(rows)


def plot_lm(lm: pd.DataFrame, out: str) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric, label in ((axes[0], "loss", "next-token loss (nats)"), (axes[1], "accuracy", "next-token accuracy")):
        for (size, runs), colour in zip(lm.groupby("size", sort=False), ("tab:blue", "tab:orange"), strict=False):
            ax.plot(runs["tokens"], runs[f"valid_{metric}"], "o--", c=colour, alpha=0.6,
                    label=f"{size}: held-out genome pieces (each run's own sample)")
            if f"cohn_{metric}" in runs:
                ax.plot(runs["tokens"], runs[f"cohn_{metric}"], "s-", c=colour,
                        label=f"{size}: Cohn human valid sequences (522, fixed)")
        ax.set_xlabel("genome tokens seen (millions, 4-mer / stride 2)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Primate genome LM: pretraining runs, each continuing the one before")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"figure → {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", nargs="?", default=str(Path.home() / ".cache/genomic-ulmfit/results"))
    ap.add_argument("--out", default="benchmarks/figures/auroc.png")
    ap.add_argument("--lm-root", default=str(Path.home() / ".cache/genomic-ulmfit/lm"))
    ap.add_argument("--lm-out", default="benchmarks/figures/lm.png")
    a = ap.parse_args()
    work = Path(a.work)
    ho, cv = holdout_points(work), cv_points(work)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1, 1.3]})
    ax = axes[0]
    if len(ho):
        ho = ho.sort_values("auroc")
        y = range(len(ho))
        ax.errorbar(ho["auroc"], y, xerr=[ho["auroc"] - ho["lo"], ho["hi"] - ho["auroc"]], fmt="o", capsize=3)
        ax.set_yticks(list(y), ho["model"])
    ax.axvline(0.735, ls=":", c="grey", label="GC content only (0.735)")
    ax.axvline(0.819, ls="--", c="tab:red", label="published Genomic-ULMFiT 3-mer, 28k seqs (0.819)")
    ax.set_xlabel("AUROC [95% bootstrap CI]")
    ax.set_title("Cohn human: trained on 4,706, tested on 523")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, ncol=2)
    ax = axes[1]
    if len(cv):
        models = list(dict.fromkeys(cv["model"]))
        datas = list(dict.fromkeys(cv["data"]))
        width = 0.8 / len(models)
        for i, m in enumerate(models):
            sub = cv[cv["model"] == m].set_index("data").reindex(datas)
            ax.bar([j + i * width for j in range(len(datas))], sub["auroc_mean"], width, yerr=sub["auroc_sd"],
                   capsize=2, label=m)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(datas))], datas)
        ax.set_ylim(0.45, 1.0)
        ax.set_ylabel("AUROC, mean ± sd over 5 folds")
        ax.set_title("5-fold CV (near-duplicates kept in one fold)")
        ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.08))  # below: bars fill the axes
    fig.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(f"figure → {a.out}")
    lm = lm_points(Path(a.lm_root), work)
    if len(lm):
        print(lm.round(4).to_string(index=False))
        plot_lm(lm, a.lm_out)


if __name__ == "__main__":
    main()
