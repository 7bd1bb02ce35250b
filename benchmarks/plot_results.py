"""Figure for RESULTS.md: AUROC with 95% CI of every model on the Cohn human test set, and the
cross-validation AUROC (mean ± sd over folds) on every shared data set.

Usage: .venv/bin/python benchmarks/plot_results.py [WORK_DIR] [--out benchmarks/figures/auroc.png]
Reads what benchmarks/real_data.sh wrote into WORK_DIR (default ~/.cache/genomic-ulmfit/results);
parts that have not been run are left out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

HOLDOUTS = [("cohn_recipe", None), ("cohn_gkmsvm", None), ("cohn_ablations", ("ulmfit-noft", "ulmfit-nolm", "ulmfit-scratch"))]
CVS = [("Cohn human", "cohn_cv"), ("iEnhancer", "ienhancer_cv_ulmfit"), ("NHLF", "nhlf_cv"), ("VISTA", "vista_cv")]


def holdout_points(work: Path) -> pd.DataFrame:
    rows = []
    for step, keep in HOLDOUTS:
        f = work / step / "metrics.json"
        if not f.is_file():
            continue
        for label, m in json.loads(f.read_text())["test_metrics"].items():
            if keep is None or label in keep:
                rows.append({"model": label, "auroc": m["auroc"], "lo": m["auroc_lo"], "hi": m["auroc_hi"]})
    ens4 = work / "cohn_gkmsvm" / "eval" / "metrics.json"
    if ens4.is_file():
        for r in json.loads(ens4.read_text())["results"]:
            if r["model"] == "ensemble4":
                rows.append({"model": "ensemble + gkm-SVM", "auroc": r["auroc"], "lo": r["auroc_lo"], "hi": r["auroc_hi"]})
    return pd.DataFrame(rows).drop_duplicates("model", keep="last")


def cv_points(work: Path) -> pd.DataFrame:
    parts = []
    for name, step in CVS:
        f = work / step / "cv_summary.tsv"
        if f.is_file():
            parts.append(pd.read_csv(f, sep="\t").assign(data=name))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", nargs="?", default=str(Path.home() / ".cache/genomic-ulmfit/results"))
    ap.add_argument("--out", default="benchmarks/figures/auroc.png")
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
        ax.set_ylim(0.45, 0.95)
        ax.set_ylabel("AUROC, mean ± sd over 5 folds")
        ax.set_title("5-fold CV (near-duplicates kept in one fold)")
        ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(f"figure → {a.out}")


if __name__ == "__main__":
    main()
