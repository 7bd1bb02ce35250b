"""The embedded demo: the whole pipeline on simulated data, runnable anywhere in minutes.

simulate 4 species (Cohn layout + background genomes) → import → split → tiny LM pretraining on
the simulated genomes → per species: LM fine-tune → ULMFiT; CNN; k-mer LR; gkm-SVM → evaluate → the
per-species table (printed) and ``report.md``/``report.html``; plus a cross-species matrix for
the k-mer model. Every number printed is a result of this run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from genomic_ulmfit.utils import rich_log


def run_demo(out_dir: str | os.PathLike = "demo_out", *, n_species: int = 4, per_class: int = 1000,
             preset: str = "demo", models: str = "kmer,cnn,gkm,ulmfit", seed: int = 0, genome_length: int = 400_000,
             cross: bool = True, progress: bool = True, log: Callable[[str], None] = rich_log) -> dict:
    """Run the demo into ``out_dir``; returns a summary with the results table and paths."""
    from genomic_ulmfit.data.dataset import Source, import_sources, save_dataset
    from genomic_ulmfit.data.leakage import leakage_report
    from genomic_ulmfit.data.simulate import simulate_cohn_layout
    from genomic_ulmfit.data.split import assign_splits
    from genomic_ulmfit.data.stats import dataset_stats
    from genomic_ulmfit.evaluation.benchmark import cross_species, parse_models, run_benchmark
    from genomic_ulmfit.models.names import split_name
    from genomic_ulmfit.training.lm import pretrain_lm

    names = parse_models(models)  # before anything runs
    t0 = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def step(msg: str) -> None:
        log(f"[bold cyan][{time.time() - t0:6.1f} s][/] {msg}")

    step(f"simulating {n_species} species × {per_class} enhancers + {per_class} negatives (Cohn layout)")
    sim_dir = out / "simulated"
    simulate_cohn_layout(sim_dir, n_species=n_species, per_class=per_class, seed=seed,
                         genome_length=genome_length, write_genomes=True)
    step("importing and splitting 80/10/10 (stratified, reverse complements kept together)")
    df = import_sources([Source("cohn", str(sim_dir))])
    df = assign_splits(df, seed=seed)
    data_path = out / "dataset.parquet"
    save_dataset(df, data_path, sources=[{"kind": "cohn", "path": str(sim_dir)}])
    report = leakage_report(df)
    for line in report.summary_lines():
        log(f"   {line}")
    floors = {sp: g.get("auroc") for sp, g in dataset_stats(df)["gc_auroc"].items()}
    log("   GC-content-only AUROC (the composition floor): "
        + ", ".join(f"{sp} {'-' if v is None else format(v, '.3f')}" for sp, v in floors.items()))
    lm_dir = None
    if any(n.startswith("ulmfit") for n in names):
        genomes = sorted((sim_dir / "genomes").glob("*.fa.gz"))
        step(f"pretraining the genome LM on {len(genomes)} simulated background genomes (preset {preset})")
        lm_dir = pretrain_lm(genomes, out / "lm_pretrained", preset=preset, seed=seed, progress=progress)
    what = {"ulmfit": "LM fine-tune → ULMFiT", "cnn": "CNN", "kmer": "k-mer LR", "gkm": "gkm-SVM", "gkmsvm": "gkm-SVM (gkmsvm-lite)"}
    chosen = [what.get(split_name(n)[0], n) for n in names]
    step(f"benchmark: per species, {'; '.join(chosen)}; then evaluate")
    results = run_benchmark(
        data_path, out / "benchmark", models=names, preset=preset, lm_dir=lm_dir, ensemble=True, seed=seed,
        progress=progress,
        log=log, title="genomic-ulmfit demo (simulated species)",
        notes=[f"Demo on simulated data ({n_species} species × {2 * per_class} sequences), preset {preset}."],
    )
    matrix = None
    if cross and n_species > 1:
        step("cross-species transfer (k-mer LR): train on each species, test on every species")
        matrix = cross_species(data_path, out / "cross_species", model="kmer", seed=seed, progress=progress,
                               log=log)
        log(matrix.round(3).to_string())
    step(f"done. Report: {out / 'benchmark' / 'report.md'} (and report.html)")
    return {"results": results, "cross_species": matrix, "dataset": str(data_path),
            "report": str(out / "benchmark" / "report.md"), "seconds": time.time() - t0}
