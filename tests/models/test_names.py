import pytest

from genomic_ulmfit.errors import ConfigError
from genomic_ulmfit.evaluation.benchmark import parse_models
from genomic_ulmfit.models.estimators import model_from_name
from genomic_ulmfit.models.names import (
    ENCODER_VARIANTS,
    VARIANTS,
    known_names,
    model_variants,
    names_help,
    split_name,
    uses_copies_genome,
    uses_genome_lm,
    uses_motifs,
    variant_parts,
)


def test_every_name_in_the_table_is_accepted_where_names_are_read():
    """One table: parse_models takes every name, model_from_name builds every one that sets the model."""
    assert parse_models(known_names()) == known_names()
    for name in known_names():
        base, variant = split_name(name)
        if variant in ENCODER_VARIANTS:
            with pytest.raises(ConfigError, match="not a setting of the model itself"):
                model_from_name(name)
        elif uses_copies_genome(name):
            with pytest.raises(ConfigError, match="give its FASTA file"):
                model_from_name(name)
            assert model_from_name(name, copies_genome=["g.fa"]).copies_genome[0].endswith("g.fa")
        else:
            assert model_from_name(name).kind == base


def test_model_variants_leave_out_the_encoder_variants():
    assert model_variants("ulmfit") == ("comp",)
    assert model_variants("cnn") == ("cohn", "modern")
    assert model_variants("kmer") == ("copies", "motifs", "copies+motifs") and model_variants("nope") == ()


def test_help_lists_each_model_with_its_variants():
    assert (
        names_help() == "kmer[:copies|:motifs|:copies+motifs], cnn[:cohn|:modern], ulmfit[:scratch|:noft|:nolm|:comp], gkm[:linear|:copies|:motifs|:copies+motifs], gkmsvm"
    )
    assert len(known_names()) == sum(len(v) for v in VARIANTS.values())
    assert names_help(encoder_variants=False) == "kmer[:copies|:motifs|:copies+motifs], cnn[:cohn|:modern], ulmfit[:comp], gkm[:linear|:copies|:motifs|:copies+motifs], gkmsvm"


def test_only_ulmfit_with_a_genome_lm_uses_one():
    assert [n for n in known_names() if uses_genome_lm(n)] == ["ulmfit", "ulmfit:noft", "ulmfit:comp"]
    assert split_name("cnn:cohn") == ("cnn", "cohn") and split_name("kmer") == ("kmer", "")


def test_variants_joined_by_plus_combine_their_inputs():
    assert variant_parts("kmer:copies+motifs") == {"copies", "motifs"} and variant_parts("kmer") == set()
    assert uses_copies_genome("kmer:copies+motifs") and not uses_copies_genome("kmer:motifs")
    assert uses_motifs("kmer:motifs") and uses_motifs("kmer:copies+motifs") and not uses_motifs("gkm:copies")
    assert uses_motifs("gkm:motifs") and model_from_name("gkm:motifs").motifs == "jaspar"
    both = model_from_name("kmer:copies+motifs", copies_genome=["g.fa"], motifs="liver")
    assert both.motifs == "liver" and both.copies_genome[0].endswith("g.fa")
    assert model_from_name("kmer:motifs").motifs == "jaspar" and model_from_name("kmer").motifs is None
