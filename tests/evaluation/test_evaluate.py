"""evaluate_run: saved runs scored on a split, metrics equal to scikit-learn's, files written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from genomic_ulmfit.data.dataset import Source, import_sources, save_dataset
from genomic_ulmfit.data.simulate import simulate_cohn_layout
from genomic_ulmfit.data.split import assign_splits
from genomic_ulmfit.errors import InputError
from genomic_ulmfit.evaluation.evaluate import evaluate_run, run_names, select_split
from genomic_ulmfit.models.base import load_model
from genomic_ulmfit.models.kmer import KmerLogistic
from genomic_ulmfit.training.runs import train_model

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    simulate_cohn_layout(root / "sim", n_species=2, per_class=80, write_genomes=False, seed=0)
    df = assign_splits(import_sources([Source("cohn", str(root / "sim"))]), seed=0)
    save_dataset(df, root / "data.parquet")
    for name, k in (("k3", 3), ("k4", 4)):
        train_model(KmerLogistic(k_max=k, Cs=(1e-3, 1e-2), cv=2), df, root / name, progress=False)
    return {"root": root, "df": df}


def test_evaluate_run_writes_metrics_equal_to_sklearn(env, tmp_path):
    root = env["root"]
    results, scores = evaluate_run([root / "k4"], root / "data.parquet", split="test", out_dir=tmp_path, n_boot=200)
    for name in ("metrics.json", "metrics.md", "scores.tsv", "roc_pr_SimHuman.png", "roc_pr_SimMouse.png"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "roc_pr_SimHuman.png").read_bytes()[:8] == PNG

    test = env["df"][env["df"]["split"] == "test"]
    on_disk = pd.read_csv(tmp_path / "scores.tsv", sep="\t")
    assert on_disk["id"].tolist() == test["id"].tolist()
    expected = load_model(root / "k4").predict_proba(test["sequence"].tolist())
    np.testing.assert_allclose(on_disk["score"], expected, rtol=0, atol=1e-12)

    assert results["species"].tolist() == ["SimHuman", "SimMouse", "all"]
    assert (results["model"] == "k4").all()
    for row in results.itertuples():
        part = on_disk if row.species == "all" else on_disk[on_disk["species"] == row.species]
        assert row.n_test == len(part) and row.n_pos == part["label"].sum()
        assert row.auroc == pytest.approx(roc_auc_score(part["label"], part["score"]), abs=1e-12)
        assert row.auprc == pytest.approx(average_precision_score(part["label"], part["score"]), abs=1e-12)
        assert row.accuracy == pytest.approx(((part["score"] >= 0.5) == part["label"]).mean())
        assert row.auroc_lo <= row.auroc <= row.auroc_hi

    meta = json.loads((tmp_path / "metrics.json").read_text())
    assert meta["n_boot"] == 200 and meta["title"] == "Evaluation on split test"
    assert [r["auroc"] for r in meta["results"]] == pytest.approx(results["auroc"].tolist(), abs=1e-12)
    md = (tmp_path / "metrics.md").read_text()
    assert f"{results['auroc'][0]:.3f}" in md and "SimMouse" in md


def test_evaluate_several_runs_one_species_other_split(env):
    root = env["root"]
    results, scores = evaluate_run([root / "k3", root / "k4"], env["df"], split="valid", species=["SimMouse"],
                                   n_boot=50)
    assert set(results["model"]) == {"k3", "k4"} and set(results["species"]) == {"SimMouse"}
    valid = env["df"][(env["df"]["split"] == "valid") & (env["df"]["species"] == "SimMouse")]
    assert len(scores) == 2 * len(valid)
    k3 = scores[scores["model"] == "k3"]
    assert results.set_index("model").loc["k3", "auroc"] == pytest.approx(roc_auc_score(k3["label"], k3["score"]))


def test_several_runs_get_paired_delong_tests_against_the_best(env, tmp_path):
    from genomic_ulmfit.evaluation.metrics import delong_test

    root = env["root"]
    results, scores = evaluate_run([root / "k3", root / "k4"], root / "data.parquet", split="test",
                                   out_dir=tmp_path, n_boot=20)
    delong = pd.read_csv(tmp_path / "delong.tsv", sep="\t")
    assert set(delong["species"]) == {"SimHuman", "SimMouse"} and len(delong) == 4
    for species, sub in delong.groupby("species"):
        best = results[results["species"] == species].set_index("model")["auroc"].idxmax()
        assert (sub["best"] == best).all()
        own = sub[sub["model"] == best].iloc[0]
        assert own["delta"] == 0 and own["p"] == 1
        other = sub[sub["model"] != best].iloc[0]
        a = scores[(scores["model"] == other["model"]) & (scores["species"] == species)].sort_values("id")
        b = scores[(scores["model"] == best) & (scores["species"] == species)].sort_values("id")
        expect = delong_test(a["label"].to_numpy(), a["score"].to_numpy(), b["score"].to_numpy())
        assert other["delta"] <= 0 and other["p"] == pytest.approx(expect[3], rel=1e-4)
    assert json.loads((tmp_path / "metrics.json").read_text())["delong_vs_best"][0]["species"] in ("SimHuman", "SimMouse")


def test_delong_vs_best_skips_species_scored_on_different_sequences():
    from genomic_ulmfit.evaluation.metrics import delong_vs_best

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    rows = [pd.DataFrame({"model": m, "id": [f"s{i}" for i in range(60)], "species": "A", "label": y,
                          "score": y * w + rng.normal(size=60)}) for m, w in (("good", 3.0), ("weak", 0.5))]
    rows.append(pd.DataFrame({"model": "good", "id": ["b1", "b2"], "species": "B", "label": [0, 1], "score": [0.1, 0.9]}))
    out = delong_vs_best(pd.concat(rows, ignore_index=True))
    assert set(out["species"]) == {"A"}
    weak = out[out["model"] == "weak"].iloc[0]
    assert weak["best"] == "good" and weak["delta"] < -0.1 and weak["p"] < 0.01


def test_an_ensemble_beside_its_members_scores_each_member_once(env, tmp_path, monkeypatch):
    from genomic_ulmfit.models.ensemble import EnsembleModel

    root, df = env["root"], env["df"]
    valid = df[df["split"] == "valid"]
    EnsembleModel([root / "k3", root / "k4"]).fit([], valid_sequences=valid["sequence"].tolist(),
                                                   valid_labels=valid["label"].to_numpy()).save(tmp_path / "ens")
    EnsembleModel([root / "k4"]).fit(valid["sequence"].tolist()).save(tmp_path / "ens_k4")
    test = df[df["split"] == "test"]["sequence"].tolist()
    alone = {name: load_model(d).predict_proba(test) for name, d in
             (("k3", root / "k3"), ("k4", root / "k4"), ("ens", tmp_path / "ens"), ("ens_k4", tmp_path / "ens_k4"))}

    calls = []
    real = KmerLogistic.predict_proba

    def counted(self, sequences, **kw):
        calls.append(len(sequences))
        return real(self, sequences, **kw)

    monkeypatch.setattr(KmerLogistic, "predict_proba", counted)
    _, scores = evaluate_run([root / "k3", tmp_path / "ens", root / "k4", tmp_path / "ens_k4"], df, split="test",
                             n_boot=10)
    assert calls == [len(test), len(test)]   # k3 and k4 once each, for four scored runs
    for name, expected in alone.items():     # and every run's scores are the ones it gives on its own
        np.testing.assert_allclose(scores.loc[scores["model"] == name, "score"], expected, rtol=0, atol=1e-12)


def test_runs_with_the_same_name_are_kept_apart(env, tmp_path):
    root = env["root"]
    twin = tmp_path / "other" / "k4"
    load_model(root / "k4").save(twin)
    results, _ = evaluate_run([root / "k4", twin], env["df"], split="test", n_boot=20)
    assert sorted(set(results["model"])) == sorted([f"{root.name}/k4", "other/k4"])


def test_run_names_are_the_shortest_distinguishing_suffix():
    assert run_names(["x/runs/kmer", "x/runs/cnn"]) == ["kmer", "cnn"]
    assert run_names(["a/runs/ulmfit", "b/runs/ulmfit", "b/runs/kmer"]) == ["a/runs/ulmfit", "b/runs/ulmfit", "kmer"]
    assert run_names(["/r/a/m", "/r/b/m", "/r/b/c/m"]) == ["a/m", "b/m", "c/m"]


def test_select_split_errors(env):
    with pytest.raises(InputError, match="no rows in split 'train'"):
        select_split(env["df"].assign(split=""), "train")
    with pytest.raises(InputError, match="SimYeti"):
        select_split(env["df"], "test", ["SimYeti"])
    assert len(select_split(env["df"], "all")) == len(env["df"])
    with pytest.raises(InputError, match="split 'tset'; it has test, train, valid, or pass --split all"):
        select_split(env["df"], "tset")
    # A requested species without rows in the split is named, not dropped from the table.
    df = env["df"].copy()
    first = df["species"].iloc[0]
    df.loc[df["species"] == first, "split"] = "train"
    species = sorted(df["species"].unique())
    with pytest.raises(InputError, match=f"species {first} has no rows in split 'test'"):
        select_split(df, "test", species)
