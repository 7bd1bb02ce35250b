"""utils: atomic writes (plain and gzip)."""

from __future__ import annotations

import gzip

import pytest

from genomic_ulmfit.utils import write_text_atomic


def test_write_text_atomic_gzips_a_gz_name_reproducibly(tmp_path):
    write_text_atomic(tmp_path / "a.tsv", "id\tscore\nx\t0.5\n")
    write_text_atomic(tmp_path / "a.tsv.gz", "id\tscore\nx\t0.5\n")
    first = (tmp_path / "a.tsv.gz").read_bytes()
    assert gzip.decompress(first) == (tmp_path / "a.tsv").read_bytes()
    write_text_atomic(tmp_path / "a.tsv.gz", "id\tscore\nx\t0.5\n")
    assert (tmp_path / "a.tsv.gz").read_bytes() == first  # no timestamp in the gzip header
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tsv", "a.tsv.gz"]  # no temp files left


def test_a_failed_write_leaves_the_old_file(tmp_path):
    write_text_atomic(tmp_path / "a.txt", "old")
    with pytest.raises(TypeError):
        write_text_atomic(tmp_path / "a.txt", None)  # type: ignore[arg-type]
    assert (tmp_path / "a.txt").read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_json_records_write_undefined_values_as_null(tmp_path):
    import json
    import math

    import pandas as pd

    from genomic_ulmfit.utils import json_records, write_json_atomic

    df = pd.DataFrame({"species": ["A", "B"], "auroc": [0.8, math.nan], "n": [10, 3]})
    write_json_atomic(tmp_path / "m.json", json_records(df))
    back = json.loads((tmp_path / "m.json").read_text(), parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert back == [{"species": "A", "auroc": 0.8, "n": 10}, {"species": "B", "auroc": None, "n": 3}]
