"""predict_file / predict_sequences: FASTA, TSV (with and without labels) and datasets; strand averaging."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genomic_ulmfit.data.dataset import Source, import_sources, save_dataset
from genomic_ulmfit.data.sequences import revcomp
from genomic_ulmfit.data.simulate import simulate_cohn_layout
from genomic_ulmfit.data.split import assign_splits
from genomic_ulmfit.errors import InputError
from genomic_ulmfit.models.base import load_model
from genomic_ulmfit.models.estimators import CNNModel
from genomic_ulmfit.models.kmer import KmerLogistic
from genomic_ulmfit.predict import predict_file, predict_sequences
from genomic_ulmfit.training.runs import train_model


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A split simulated dataset, a k-mer run and a (strand-asymmetric) Cohn CNN run."""
    root = tmp_path_factory.mktemp("predict")
    simulate_cohn_layout(root / "sim", n_species=1, per_class=60, write_genomes=False, seed=0)
    df = assign_splits(import_sources([Source("cohn", str(root / "sim"))]), seed=0)
    save_dataset(df, root / "data.parquet")
    train_model(KmerLogistic(k_max=4, Cs=(1e-3, 1e-2), cv=2), df, root / "kmer", progress=False)
    train_model(CNNModel("cohn", preset="tiny", epochs=1), df, root / "cohn", progress=False)
    test = df[df["split"] == "test"].reset_index(drop=True)
    fasta = root / "test.fa"
    fasta.write_text("".join(f">{i} some description\n{s[:250]}\n{s[250:]}\n" for i, s in zip(test["id"], test["sequence"])))
    test[["id", "sequence", "label"]].to_csv(root / "test.tsv", sep="\t", index=False)
    test[["sequence"]].to_csv(root / "nolabel.csv", index=False)
    return {"root": root, "df": df, "test": test, "fasta": fasta}


def read_tsv(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"id": str})


def test_predict_fasta(env, tmp_path):
    out = tmp_path / "sub" / "scores.tsv"
    table = predict_file(env["root"] / "kmer", env["fasta"], out)
    written = read_tsv(out)
    assert list(written.columns) == ["id", "score"] == list(table.columns)
    assert written["id"].tolist() == env["test"]["id"].tolist()
    expected = load_model(env["root"] / "kmer").predict_proba(env["test"]["sequence"].tolist())
    np.testing.assert_allclose(written["score"], expected, rtol=0, atol=5e-7)  # 6 decimals on disk
    np.testing.assert_allclose(table["score"], expected, rtol=0, atol=1e-12)


def test_predict_tsv_with_labels(env, tmp_path):
    out = tmp_path / "scores.tsv"
    predict_file(env["root"] / "kmer", env["root"] / "test.tsv", out)
    written = read_tsv(out)
    assert list(written.columns) == ["id", "score", "label"]
    assert written["label"].tolist() == env["test"]["label"].tolist()
    assert written["id"].tolist() == env["test"]["id"].tolist()


def test_predict_table_without_labels_or_ids(env, tmp_path):
    table = predict_file(env["root"] / "kmer", env["root"] / "nolabel.csv", tmp_path / "s.tsv")
    assert list(table.columns) == ["id", "score"]
    assert len(table) == len(env["test"]) and table["id"].is_unique
    fasta_scores = predict_file(env["root"] / "kmer", env["fasta"])["score"].to_numpy()
    np.testing.assert_allclose(table["score"], fasta_scores, rtol=0, atol=1e-12)


def test_predict_dataset_scores_every_row(env):
    table = predict_file(env["root"] / "kmer", env["root"] / "data.parquet")
    assert table["id"].tolist() == env["df"]["id"].tolist()
    assert table["label"].tolist() == env["df"]["label"].tolist()


def test_rc_average(env, tmp_path):
    seqs = env["test"]["sequence"].tolist()
    model = load_model(env["root"] / "cohn")
    fwd = model.predict_proba(seqs)
    rc = model.predict_proba([revcomp(s) for s in seqs])
    assert not np.allclose(fwd, rc, atol=1e-4)  # the Cohn CNN is not strand symmetric
    both = predict_sequences(model, seqs, rc_average=True, batch_size=7)
    np.testing.assert_allclose(both, (fwd + rc) / 2, rtol=0, atol=1e-7)
    table = predict_file(env["root"] / "cohn", env["fasta"], tmp_path / "rc.tsv", rc_average=True)
    np.testing.assert_allclose(table["score"], both, rtol=0, atol=1e-7)
    np.testing.assert_allclose(predict_sequences(model, seqs), fwd, rtol=0, atol=0)


def test_predict_warns_about_sequences_without_bases(env, tmp_path):
    (tmp_path / "n.fa").write_text(">blank\n" + "N" * 60 + "\n>real\n" + "ACGT" * 15 + "\n")
    said = []
    table = predict_file(env["root"] / "kmer", tmp_path / "n.fa", warn=said.append)
    bases = [w for w in said if "A/C/G/T" in w]  # (60 bp is also far from the training length: a second warning)
    assert len(table) == 2 and len(bases) == 1 and "1 sequence(s) have no A/C/G/T base (first: blank)" in bases[0]
    assert any("not calibrated alike" in w for w in said)
    said.clear()
    predict_file(env["root"] / "kmer", env["fasta"], warn=said.append)
    assert said == []


def test_predict_errors(env, tmp_path):
    with pytest.raises(InputError, match="nope: no such directory"):
        predict_file(tmp_path / "nope", env["fasta"])
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nACGTRYACGT\n")
    with pytest.raises(InputError, match="bad.fa.*--mask-iupac"):
        predict_file(env["root"] / "kmer", bad)
    table = predict_file(env["root"] / "kmer", bad, mask_iupac=True)
    assert table["id"].tolist() == ["a"] and 0 <= table["score"][0] <= 1
