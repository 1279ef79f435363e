"""Downloads into a cache folder that remembers what it fetched (``manifest.json``).

A file is streamed into ``PATH.part``; a dropped connection keeps what arrived, and the next
attempt (in the same run, or a later one) asks for the rest with an HTTP ``Range`` request
(``If-Range`` on the validator of the first response, so a file that changed in between is
fetched whole again). A finished file is hashed; the manifest records its size and sha256 on
first fetch, and a later download that differs is refused unless ``force``: a file that
changed upstream, or a mirror that serves other bytes, never slips into a workspace unnoticed.
A cached file that still matches the manifest is used without any request.
"""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import json
import logging
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from cre_core import __version__
from cre_core.atomic import read_json, write_json_atomic
from cre_core.errors import CreError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
TIMEOUT_S = 60
USER_AGENT = f"cre-fitness-lab/{__version__} (python urllib)"
MANIFEST = "manifest.json"


class DownloadError(CreError):
    """A download that did not give the file (HTTP error, unreachable, refused, incomplete)."""


@dataclass(frozen=True)
class Entry:
    """What the manifest knows of one cached file."""

    url: str
    size: int
    sha256: str

    def as_json(self) -> dict[str, object]:
        return {"url": self.url, "size": self.size, "sha256": self.sha256,
                "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class Cache:
    """A download folder and its manifest (``{path: {url, size, sha256, fetched}}``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def entries(self) -> dict[str, dict]:
        if not self.manifest_path.exists():
            return {}
        data = read_json(self.manifest_path)
        if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
            raise CreError(f"{self.manifest_path}: not a cre fetch manifest (no 'files' object)")
        return data["files"]

    def entry(self, path: str) -> Entry | None:
        found = self.entries().get(path)
        if not isinstance(found, dict):
            return None
        return Entry(str(found.get("url")), int(found.get("size", -1)), str(found.get("sha256")))

    def record(self, path: str, entry: Entry) -> None:
        files = self.entries()
        files[path] = entry.as_json()
        write_json_atomic(self.manifest_path, {"files": dict(sorted(files.items()))})

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One fetch per cache at a time (two would write the same ``.part`` files)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CreError(f"another cre fetch is using the cache {self.root}; "
                               "wait for it to finish") from None
            yield

    def fetch(self, path: str, url: str, force: bool = False, retries: int = 3) -> tuple[Path, bool]:
        """The cached file for ``path``, downloaded from ``url`` unless the cache holds it.

        Returns (file, downloaded). DownloadError (exit 2) when the server fails, when the
        connection drops more than ``retries`` times in a row (the ``.part`` file stays for the
        next run to resume), or when the bytes differ from the manifest's (unless ``force``).
        """
        target = self.root / path
        known = self.entry(path)
        if target.exists() and known is not None and not force:
            if target.stat().st_size == known.size and sha256_of(target) == known.sha256:
                return target, False
            log.info("%s: the cached copy differs from the manifest (corrupted?); downloading it again", path)
        part = target.with_name(target.name + ".part")
        target.parent.mkdir(parents=True, exist_ok=True)
        _download(url, part, path, retries)
        got = Entry(url, part.stat().st_size, sha256_of(part))
        if known is not None and not force and (got.size, got.sha256) != (known.size, known.sha256):
            part.unlink()
            raise DownloadError(
                f"{url} changed: {got.size:,} bytes, sha256 {got.sha256[:12]}..., but the manifest "
                f"{self.manifest_path} recorded {known.size:,} bytes, sha256 {known.sha256[:12]}...; "
                "nothing was changed (pass --force to accept the new file)")
        os.replace(part, target)
        self.record(path, got)
        return target, True


def _download(url: str, part: Path, label: str, retries: int) -> None:
    """Fill ``part`` with the whole of ``url``, resuming from what it holds already."""
    validator_file = part.with_name(part.name + ".json")
    failures = 0
    while True:
        try:
            if _attempt(url, part, validator_file, label):
                validator_file.unlink(missing_ok=True)
                return
        except (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError,
                TimeoutError) as exc:
            reason = exc.__class__.__name__
        else:
            reason = "the download was incomplete"
        failures += 1
        if failures > retries:
            have = part.stat().st_size if part.exists() else 0
            raise DownloadError(f"{url}: the download stopped at {have:,} bytes ({reason}); run the "
                                "command again to resume it")
        log.info("%s: %s; resuming (attempt %d of %d)", label, reason, failures + 1, retries + 1)
        time.sleep(0.5 * failures)


def _attempt(url: str, part: Path, validator_file: Path, label: str) -> bool:
    """One request; True when ``part`` now holds the whole file. Network errors propagate."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        validator = read_json(validator_file) if validator_file.exists() else {}
        if isinstance(validator, dict) and validator.get("validator"):
            headers["If-Range"] = str(validator["validator"])
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:          # the part is already whole, or not this file's
            part.unlink()
            return False
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}; nothing was changed") from None
    except urllib.error.URLError as err:
        raise DownloadError(f"{url}: cannot connect ({err.reason}); nothing was changed") from None
    with response:
        if response.status == 206 and not _range_starts_at(response.headers.get("Content-Range"), offset):
            raise DownloadError(f"{url}: the server answered a resume with the wrong byte range "
                                f"({response.headers.get('Content-Range')}); delete {part} and retry")
        if response.status != 206:
            offset = 0                            # no partial answer: the whole file, from the start
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if validator and not offset:
            validator_file.write_text(json.dumps({"validator": validator}))
        with open(part, "ab" if offset else "wb") as out, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=label, disable=None, leave=False,
        ) as bar:
            while block := response.read(CHUNK):
                out.write(block)
                bar.update(len(block))
    return total is None or part.stat().st_size == total


def _range_starts_at(content_range: str | None, offset: int) -> bool:
    """``bytes START-END/TOTAL`` starts at ``offset``."""
    if not content_range or not content_range.startswith("bytes "):
        return False
    return content_range[6:].split("-", 1)[0].strip() == str(offset)


def unpack(archive: Path, patterns: list[str], folder: Path) -> dict[str, list[Path]]:
    """Extract the members whose base names match each fnmatch pattern into ``folder``.

    Only base names are used (no member path can write outside ``folder``); macOS metadata
    (``__MACOSX/``, ``._*``) is skipped. A pattern that matches nothing, or two members with
    the same base name, is a DownloadError: the archive is not the one this release names.
    Files already extracted from this same archive (same size, older than it) are kept.
    """
    import fnmatch
    import tarfile
    import zipfile

    members: dict[str, tuple[str, int]] = {}
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            listing = [(i.filename, i.file_size) for i in zf.infolist() if not i.is_dir()]
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            listing = [(m.name, m.size) for m in tf.getmembers() if m.isfile()]
    else:
        raise DownloadError(f"{archive}: neither a zip nor a tar archive")
    for name, size in listing:
        base = name.rsplit("/", 1)[-1]
        if "__MACOSX/" in name or base.startswith("._"):
            continue
        if base in members:
            raise DownloadError(f"{archive}: two members are named {base}")
        members[base] = (name, size)
    found: dict[str, list[Path]] = {}
    for pattern in patterns:
        names = sorted(b for b in members if fnmatch.fnmatchcase(b, pattern))
        if not names:
            raise DownloadError(f"{archive}: no member matches {pattern}")
        found[pattern] = [folder / b for b in names]
    wanted = {p.name for paths in found.values() for p in paths}
    folder.mkdir(parents=True, exist_ok=True)
    for base in sorted(wanted):
        name, size = members[base]
        target = folder / base
        if target.exists() and target.stat().st_size == size and target.stat().st_mtime >= archive.stat().st_mtime:
            continue
        tmp = target.with_name(f".{base}.unpacking")
        with _open_member(archive, name) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
        os.replace(tmp, target)
    return found


@contextmanager
def _open_member(archive: Path, name: str) -> Iterator:
    import tarfile
    import zipfile

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf, zf.open(name) as fh:
            yield fh
    else:
        with tarfile.open(archive) as tf:
            member = tf.extractfile(name)
            if member is None:
                raise DownloadError(f"{archive}: {name} is not a regular file")
            with member:
                yield member
