"""Downloads against a real loopback HTTP server with Range support; safe extraction of archives."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from genomic_ulmfit.data.cohn import read_cohn
from genomic_ulmfit.data.download import DownloadError, download_cohn, download_file
from toy import serve_files


def cohn_tgz_bytes() -> bytes:
    """A small Enhancers_vs_negative.tgz: 2 species × 3 sequences per class, under a top folder."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for sp, seed in (("Human", "ACGT"), ("Mouse", "GGCA")):
            for fname in ("positive_samples", "negative_samples"):
                data = "".join(f"{seed * 5}{'ACGT'[i]}\n" for i in range(3)).encode()
                info = tarfile.TarInfo(f"Enhancers_vs_negative/{sp}/{fname}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue() + b"\0" * 4096  # padding: large enough to resume in the middle


def partial(dest, data: bytes, url: str, validator: str | None) -> None:
    """A .part left by an interrupted download of ``url`` whose server gave ``validator``."""
    (dest.parent / (dest.name + ".part")).write_bytes(data)
    if validator:
        (dest.parent / (dest.name + ".part.json")).write_text(json.dumps({"url": url, "validator": validator}))


@pytest.fixture
def server():
    with serve_files({"/E.tgz": cohn_tgz_bytes()}) as (url, handler):
        yield url, handler


def test_full_download(server, tmp_path):
    url, h = server
    body = h.files["/E.tgz"]
    sha = hashlib.sha256(body).hexdigest()
    out = download_file(f"{url}/E.tgz", tmp_path / "E.tgz", progress=False, sha256=sha, expected_size=len(body))
    assert out.read_bytes() == body and not (tmp_path / "E.tgz.part").exists()
    assert h.ranges == []
    # Present and matching: returned without a request.
    h.files = {}
    assert download_file(f"{url}/E.tgz", out, progress=False, sha256=sha) == out


def test_resume_from_partial(server, tmp_path):
    url, h = server
    body = h.files["/E.tgz"]
    partial(tmp_path / "E.tgz", body[:1000], f"{url}/E.tgz", h.etag(body))
    out = download_file(f"{url}/E.tgz", tmp_path / "E.tgz", progress=False)
    assert h.ranges == ["bytes=1000-"]
    assert out.read_bytes() == body and not (tmp_path / "E.tgz.part.json").exists()


def test_a_part_of_another_version_is_not_joined_to_the_new_one(server, tmp_path):
    # The file changed on the server after the first attempt: the old bytes must not be kept.
    url, h = server
    old = h.files["/E.tgz"]
    new = old[:500] + b"X" * 600 + old[1100:]  # same size, other bytes
    h.files["/E.tgz"] = new
    partial(tmp_path / "E.tgz", old[:1000], f"{url}/E.tgz", h.etag(old))
    out = download_file(f"{url}/E.tgz", tmp_path / "E.tgz", progress=False)
    assert h.ranges == ["bytes=1000-"] and out.read_bytes() == new  # If-Range: whole new file
    # A .part without a recorded validator is not resumed at all.
    h.ranges.clear()
    partial(tmp_path / "F.tgz", old[:1000], f"{url}/E.tgz", None)
    assert download_file(f"{url}/E.tgz", tmp_path / "F.tgz", progress=False).read_bytes() == new
    assert h.ranges == []


def test_server_ignoring_range_restarts(server, tmp_path):
    url, h = server
    h.honour_range = False
    body = h.files["/E.tgz"]
    partial(tmp_path / "E.tgz", b"garbage!" * 10, f"{url}/E.tgz", h.etag(body))
    out = download_file(f"{url}/E.tgz", tmp_path / "E.tgz", progress=False)
    assert h.ranges == ["bytes=80-"] and out.read_bytes() == body


def test_complete_part_with_416(server, tmp_path):
    url, h = server
    body = h.files["/E.tgz"]
    partial(tmp_path / "E.tgz", body, f"{url}/E.tgz", h.etag(body))
    out = download_file(f"{url}/E.tgz", tmp_path / "E.tgz", progress=False, expected_size=len(body))
    assert out.read_bytes() == body and h.ranges == [f"bytes={len(body)}-"]


def test_size_mismatch_404_and_checksum(server, tmp_path):
    url, h = server
    body = h.files["/E.tgz"]
    with pytest.raises(DownloadError, match=f"server reports {len(body):,} bytes, expected 10"):
        download_file(f"{url}/E.tgz", tmp_path / "a.tgz", progress=False, expected_size=10)
    with pytest.raises(DownloadError, match="HTTP error 404"):
        download_file(f"{url}/missing.tgz", tmp_path / "b.tgz", progress=False)
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download_file(f"{url}/E.tgz", tmp_path / "c.tgz", progress=False, sha256="0" * 64)
    assert not (tmp_path / "c.tgz").exists() and not (tmp_path / "c.tgz.part").exists()


def test_connection_refused_is_one_line(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(DownloadError, match="download failed") as err:
        download_file(f"http://127.0.0.1:{port}/x", tmp_path / "x", progress=False, timeout=5)
    assert "\n" not in str(err.value)


def test_download_cohn_extracts_and_reads(server, tmp_path):
    url, _ = server
    root = download_cohn(tmp_path / "cohn", url=f"{url}/E.tgz", progress=False)
    assert root == tmp_path / "cohn" / "Enhancers_vs_negative"
    recs = list(read_cohn(root))
    assert len(recs) == 12 and {r.species for r in recs} == {"Human", "Mouse"}
    assert recs[0].id == "Human:pos:1"
    archive = download_cohn(tmp_path / "raw", url=f"{url}/E.tgz", extract=False, progress=False)
    assert archive.name == "Enhancers_vs_negative.tgz" and not (tmp_path / "raw" / "Enhancers_vs_negative").exists()


@pytest.mark.parametrize("member", ["../evil", "/abs/evil", "link"])
def test_download_of_malicious_archive_refused(server, tmp_path, member):
    from genomic_ulmfit.errors import InputError

    url, h = server
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        ok = tarfile.TarInfo("E/Human/positive_samples")
        ok.size = 5
        tar.addfile(ok, io.BytesIO(b"ACGT\n"))
        bad = tarfile.TarInfo(member if member != "link" else "E/Human/negative_samples")
        if member == "link":
            bad.type = tarfile.SYMTYPE
            bad.linkname = "../../../etc/passwd"
            tar.addfile(bad)
        else:
            bad.size = 4
            tar.addfile(bad, io.BytesIO(b"evil"))
    h.files["/bad.tgz"] = buf.getvalue()
    with pytest.raises(InputError, match="unsafe"):
        download_cohn(tmp_path / "out", url=f"{url}/bad.tgz", progress=False)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "out" / "E").exists()


def test_an_error_page_or_a_cut_archive_is_not_kept_as_the_download(server, tmp_path):
    url, h = server
    h.files["/page.tgz"] = b"<!DOCTYPE html><html>Not here</html>"
    with pytest.raises(DownloadError, match="the server sent no tar archive .*an error page"):
        download_cohn(tmp_path / "a", url=f"{url}/page.tgz", extract=False, progress=False)
    assert not (tmp_path / "a" / "Enhancers_vs_negative.tgz").exists()
    body = h.files["/E.tgz"]
    h.files["/cut.tgz"] = body[: (len(body) - 4096) // 2]  # half the gzip stream, served as if whole
    with pytest.raises(DownloadError, match="the archive is truncated or corrupt"):
        download_cohn(tmp_path / "b", url=f"{url}/cut.tgz", extract=False, progress=False)
    assert not (tmp_path / "b" / "Enhancers_vs_negative.tgz").exists()


def test_bad_urls_and_unwritable_destinations_are_one_line(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match="not a URL that can be downloaded"):
        download_file("example/good.tgz", tmp_path / "x", progress=False)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DownloadError, match="cannot create the download folder"):
        download_file(f"{url}/E.tgz", tmp_path / "afile" / "sub" / "E.tgz", progress=False)
