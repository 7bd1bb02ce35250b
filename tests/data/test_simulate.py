"""Simulated Cohn-layout data: layout, determinism, biology (GC, CpG, motifs) and difficulty."""

from __future__ import annotations

import gzip
import json
import re

import numpy as np
import pytest

from genomic_ulmfit.data.motifs import MOTIF_NAMES, MOTIFS, count_hits, dna_codes, sample_sites
from genomic_ulmfit.data.sequences import gc_content, revcomp
from genomic_ulmfit.data.simulate import (
    SPECIES_NAMES,
    _chain_stats,
    markov_chain,
    sample_markov,
    simulate_cohn_layout,
    simulate_enhancers,
    simulate_genome,
    simulate_negatives,
    species_params,
)
from genomic_ulmfit.errors import ConfigError

SMALL = {"n_species": 2, "per_class": 40, "length": 200, "genome_length": 40_000}


def read_lines(path):
    text = path.read_bytes().decode("ascii")
    assert text.endswith("\n") and "\r" not in text
    return text[:-1].split("\n")


def read_fasta_gz(path) -> dict[str, str]:
    records, name = {}, None
    with gzip.open(path, "rt") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith(">"):
                name = line[1:].split()[0]
                records[name] = []
            else:
                records[name].append(line)
    return {k: "".join(v) for k, v in records.items()}


@pytest.fixture(scope="module")
def small_layout(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    return out, simulate_cohn_layout(out, seed=3, **SMALL)


def test_layout_is_exact(small_layout):
    out, summary = small_layout
    assert list(summary["species"]) == ["SimHuman", "SimMouse"]
    for sp in ("SimHuman", "SimMouse"):
        for kind in ("positive_samples", "negative_samples"):
            lines = read_lines(out / sp / kind)
            assert len(lines) == 40
            assert all(len(s) == 200 for s in lines)
            assert all(re.fullmatch("[ACGTNacgtn]+", s) for s in lines)
        genome = read_fasta_gz(out / "genomes" / f"{sp}.fa.gz")
        assert list(genome) == ["simchr1", "simchr2", "simchr3"]
        assert sum(map(len, genome.values())) == 40_000
        joined = "".join(genome.values())
        assert re.fullmatch("[ACGTNacgt]+", joined)
        assert any(c.islower() for c in joined)  # soft-masked repeats
    on_disk = json.loads((out / "simulation.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    assert on_disk["parameters"]["per_class"] == 40
    assert on_disk["motifs"]["HNF4A"] == "MA0114.4"
    human = on_disk["species"]["SimHuman"]
    assert human["counts"] == {"positive": 40, "negative": 40}
    assert human["paths"]["genome"] == "genomes/SimHuman.fa.gz"
    assert set(human["motif_usage"]) == set(MOTIF_NAMES)
    assert human["observed"]["sites_per_positive"] > human["observed"]["sites_per_negative"]


def test_deterministic_per_seed(tmp_path, small_layout):
    out, _ = small_layout
    again = tmp_path / "again"
    simulate_cohn_layout(again, seed=3, **SMALL)
    for rel in ("SimHuman/positive_samples", "SimMouse/negative_samples", "genomes/SimMouse.fa.gz"):
        assert (out / rel).read_bytes() == (again / rel).read_bytes()
    other = tmp_path / "other"
    simulate_cohn_layout(other, seed=4, n_species=1, per_class=40, length=200, write_genomes=False)
    assert (other / "SimHuman/positive_samples").read_bytes() != (
        out / "SimHuman/positive_samples"
    ).read_bytes()
    assert not (other / "genomes").exists()
    # Species streams are independent of how many species are simulated or of genome writing.
    one = tmp_path / "one"
    simulate_cohn_layout(one, seed=3, n_species=1, per_class=40, length=200, write_genomes=False)
    assert (one / "SimHuman/negative_samples").read_bytes() == (
        out / "SimHuman/negative_samples"
    ).read_bytes()


def test_a_folder_with_species_or_genomes_this_run_would_not_replace_is_refused(tmp_path, small_layout):
    out, _ = small_layout  # two species with genomes, seed 3
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match=r"already holds SimMouse/, genomes/SimMouse.fa.gz from an earlier"):
        simulate_cohn_layout(out, seed=3, **{**SMALL, "n_species": 1})
    with pytest.raises(ConfigError, match=r"already holds genomes/SimHuman.fa.gz, genomes/SimMouse.fa.gz"):
        simulate_cohn_layout(out, seed=3, **{**SMALL, "write_genomes": False})
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # refused before writing
    simulate_cohn_layout(out, seed=3, **SMALL)  # the same simulation again replaces its own files
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_species_names_are_not_real():
    assert all(name.startswith("Sim") for name in SPECIES_NAMES)
    assert SPECIES_NAMES[:4] == ("SimHuman", "SimMouse", "SimDog", "SimOpossum")
    extra = species_params(5)
    assert extra == species_params("SimRat")  # fixed, whatever the sample seed
    assert min(extra.motif_weights.values()) < 0.05  # one factor nearly lost


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_species": 0}, "--species"),
        ({"n_species": len(SPECIES_NAMES) + 1}, "--species"),
        ({"per_class": 0}, "--per-class"),
        ({"length": 20}, "--length"),
        ({"genome_length": 10}, "--genome-length"),
        ({"seed": -1}, "--seed"),
    ],
)
def test_bad_arguments_raise_config_error(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        simulate_cohn_layout(tmp_path, **kwargs)
    with pytest.raises(ConfigError, match="SimUnicorn"):
        species_params("SimUnicorn")


@pytest.mark.parametrize("name", ["SimHuman", "SimOpossum"])
def test_markov_chain_hits_gc_and_cpg_targets(name):
    params = species_params(name)
    for enhancer, gc, oe in (
        (False, params.gc, params.cpg_oe),
        (True, params.enhancer_gc, params.enhancer_cpg_oe),
    ):
        trans, init = markov_chain(params, enhancer=enhancer)
        np.testing.assert_allclose(trans.sum(axis=1), 1.0)
        got_gc, got_oe, _ = _chain_stats(trans)
        assert got_gc == pytest.approx(gc, abs=1e-4) and got_oe == pytest.approx(oe, abs=1e-4)
    # Sampling reproduces the stationary statistics.
    trans, init = markov_chain(params)
    codes = sample_markov(trans, init, 100, 2_000, np.random.default_rng(0)).ravel()
    f_c, f_g = np.mean(codes == 1), np.mean(codes == 2)
    f_cg = np.mean((codes[:-1] == 1) & (codes[1:] == 2))
    assert f_c + f_g == pytest.approx(params.gc, abs=0.01)
    assert f_cg / (f_c * f_g) == pytest.approx(params.cpg_oe, abs=0.04)


def test_species_differ_in_gc_and_enhancers_are_gc_richer():
    gc = {}
    for i, name in enumerate(("SimHuman", "SimDog", "SimOpossum")):
        params = species_params(name)
        pos, _, _ = simulate_enhancers(params, 300, 500, np.random.default_rng([i, 0]))
        neg, _, _ = simulate_negatives(params, 300, 500, np.random.default_rng([i, 1]))
        gc[name] = (np.isin(pos, (1, 2)).mean(), np.isin(neg, (1, 2)).mean())
        assert gc[name][0] > gc[name][1] + 0.003
    assert gc["SimOpossum"][1] < gc["SimHuman"][1] - 0.015  # the AT-rich species
    assert gc["SimDog"][1] > gc["SimHuman"][1] + 0.01


def test_genome_background():
    params = species_params("SimHuman")
    g1 = simulate_genome(params, 300_000, np.random.default_rng(1))
    assert g1 == simulate_genome(params, 300_000, np.random.default_rng(1))
    assert len(g1) == 300_000 and re.fullmatch("[ACGTacgtN]+", g1)
    raw = np.frombuffer(g1.encode(), dtype=np.uint8)
    masked = (raw >= ord("a")).mean()
    assert masked == pytest.approx(params.repeat_fraction, abs=0.05)
    assert 0 < (raw == ord("N")).mean() < 0.05  # rare assembly gaps
    assert gc_content([g1])[0] == pytest.approx(params.gc, abs=0.02)
    assert simulate_genome(params, 0, np.random.default_rng(1)) == ""


def test_motifs_are_jaspar_matrices():
    assert {"HNF4A", "CEBPA", "FOXA2", "HNF1A", "ONECUT1"} <= set(MOTIFS)
    assert MOTIFS["CEBPA"].jaspar_id == "MA0102.4" and MOTIFS["FOXA2"].jaspar_id == "MA0047.3"
    for m in MOTIFS.values():
        assert len(m.counts) == 4 and len({len(row) for row in m.counts}) == 1
        np.testing.assert_allclose(m.probs().sum(axis=1), 1.0)
    assert "CAAAGTCCA" in MOTIFS["HNF4A"].consensus
    assert "ATTGCACAAT" in MOTIFS["CEBPA"].consensus
    assert "GTAAACA" in MOTIFS["FOXA2"].consensus


def test_sampled_sites_follow_the_matrix():
    motif = MOTIFS["HNF1A"]
    sites = sample_sites(motif, 20_000, np.random.default_rng(0))
    freq = np.stack([(sites == b).mean(axis=0) for b in range(4)], axis=1)  # (length, 4)
    np.testing.assert_allclose(freq, motif.probs(), atol=0.015)


def test_count_hits_finds_sites_on_both_strands():
    cons = MOTIFS["HNF4A"].consensus.upper()
    bg = "T" * 40
    seqs = [bg + cons + bg, bg + revcomp(cons) + bg, bg + "A" * len(cons) + bg]
    assert count_hits(seqs, MOTIFS["HNF4A"]).tolist() == [1, 1, 0]
    np.testing.assert_array_equal(count_hits(dna_codes(seqs), MOTIFS["HNF4A"]), [1, 1, 0])


def test_positives_are_enriched_for_liver_motifs(small_layout):
    params = species_params("SimHuman")
    pos, _, _ = simulate_enhancers(params, 300, 500, np.random.default_rng(0))
    neg, _, _ = simulate_negatives(params, 300, 500, np.random.default_rng(1))
    for name in ("HNF4A", "CEBPA"):
        hits_pos = count_hits(pos, MOTIFS[name]).mean()
        hits_neg = count_hits(neg, MOTIFS[name]).mean()
        assert hits_pos > 2 * hits_neg, (name, hits_pos, hits_neg)
    # Motif turnover: CEBPA is nearly absent from SimOpossum enhancers.
    opossum = species_params("SimOpossum")
    o_pos, _, o_sites = simulate_enhancers(opossum, 300, 500, np.random.default_rng(2))
    cebpa = MOTIF_NAMES.index("CEBPA")
    assert o_sites[:, cebpa].sum() < 0.02 * o_sites.sum()
    assert count_hits(o_pos, MOTIFS["CEBPA"]).mean() < 0.5 * count_hits(pos, MOTIFS["CEBPA"]).mean()


def _kmer_features(seqs: list[str], kmax: int = 4) -> np.ndarray:
    """Normalised k-mer counts (k = 1..kmax) over both strands, shape (n, sum 4**k)."""
    from genomic_ulmfit.tokenize import KmerTokenizer

    both = [seqs, [revcomp(s) for s in seqs]]
    n = len(seqs)
    blocks = []
    for k in range(1, kmax + 1):
        tok = KmerTokenizer(k, 1)
        counts = np.zeros((n, tok.vocab_size))
        for strand in both:
            ids = tok.encode(strand).astype(np.int64) + np.arange(n)[:, None] * tok.vocab_size
            counts += np.bincount(ids.ravel(), minlength=n * tok.vocab_size).reshape(n, -1)
        counts = counts[:, 3:]
        blocks.append(counts / counts.sum(axis=1, keepdims=True))
    return np.hstack(blocks)


def test_task_is_neither_trivial_nor_hopeless(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    simulate_cohn_layout(tmp_path, n_species=1, per_class=600, length=500, seed=0, write_genomes=False)
    pos = read_lines(tmp_path / "SimHuman/positive_samples")
    neg = read_lines(tmp_path / "SimHuman/negative_samples")
    X = _kmer_features(pos + neg)
    y = np.r_[np.ones(600), np.zeros(600)]
    train = np.r_[0:400, 600:1000]
    test = np.r_[400:600, 1000:1200]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.003, max_iter=2000)).fit(X[train], y[train])
    auroc = roc_auc_score(y[test], clf.predict_proba(X[test])[:, 1])
    assert 0.72 < auroc < 0.97, auroc
