"""``cre fetch NAME... --workspace DIR``: download public datasets, then ingest them.

The only command that reaches the network, and only when run. Every file is downloaded (or
found in the cache, see cre_core.data.download) and unpacked before the workspace is opened,
so a missing or refused file leaves the workspace exactly as it was; the ingest itself is the
usual transactional one. ``--mirror URL`` (or ``$CRE_MIRROR``) reads every file from
``URL/PATH`` instead of its publisher, PATH being the file's place in the cache.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import urllib.parse
from pathlib import Path

from cre_core.data.download import Cache, unpack
from cre_core.data.ingest import IngestRequest, ingest
from cre_core.data.public_sources import DATASETS, ROLES, Remote
from cre_core.errors import CreError
from cre_core.workspace import resolve_workspace

log = logging.getLogger(__name__)

MIRROR_VAR = "CRE_MIRROR"
CACHE_VAR = "CRE_CACHE"


def default_cache() -> Path:
    """``$CRE_CACHE``, else ``$XDG_CACHE_HOME/cre-fitness-lab``, else ``~/.cache/cre-fitness-lab``."""
    if os.environ.get(CACHE_VAR):
        return Path(os.environ[CACHE_VAR])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cre-fitness-lab"


def source_url(remote: Remote, mirror: str | None) -> str:
    """The publisher's URL, or ``MIRROR/PATH`` (PATH percent-encoded) under a mirror."""
    if not mirror:
        return remote.url
    return f"{mirror.rstrip('/')}/{urllib.parse.quote(remote.path)}"


def download_all(names: list[str], cache: Cache, mirror: str | None = None, force: bool = False,
                 retries: int = 3) -> tuple[dict[str, list[Path]], int]:
    """Fetch and unpack every file of ``names``; returns the files by ingest role and the
    number of files downloaded now (the others were in the cache)."""
    by_role: dict[str, list[Path]] = {role: [] for role in ROLES}
    downloaded = 0
    with cache.locked():
        for name in names:
            for remote in DATASETS[name].files:
                url = source_url(remote, mirror)
                log.info("%s: %s", remote.path, url)
                path, fresh = cache.fetch(remote.path, url, force=force, retries=retries)
                downloaded += fresh
                if remote.role:
                    by_role[remote.role].append(path)
                if remote.members:
                    folder = path.with_name(path.name.split(".")[0])
                    found = unpack(path, [m.pattern for m in remote.members], folder)
                    for member in remote.members:
                        by_role[member.role] += found[member.pattern]
    return by_role, downloaded


def ingest_request(by_role: dict[str, list[Path]]) -> IngestRequest:
    """The ingest of the fetched files (genes on a chromosome without sequence are skipped and
    counted: SGD's GFF names the 2-micron plasmid and the mitochondrion)."""
    def single(role: str) -> Path | None:
        paths = by_role[role]
        if len(paths) > 1:
            raise CreError(f"two files to ingest as --{role}: {paths[0]} and {paths[1]}")
        return paths[0] if paths else None

    return IngestRequest(gff=single("gff"), fasta=single("fasta"), smf=single("smf"), obo=single("obo"),
                         gaf=single("gaf"), skip_missing_chromosomes=True, sga=by_role["sga"],
                         kuzmin=by_role["kuzmin"], dcell_pairs=by_role["dcell_pairs"])


def _list() -> int:
    for dataset in DATASETS.values():
        print(f"{dataset.name}: {dataset.title}")
        for remote in dataset.files:
            print(f"  {remote.path}  <-  {remote.url}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if not args.names:
        raise CreError(f"name at least one dataset to fetch ({', '.join(DATASETS)}, or all); "
                       "--list shows their files")
    unknown = [n for n in args.names if n not in DATASETS and n != "all"]
    if unknown:
        raise CreError(f"unknown dataset {unknown[0]!r}; choose from {', '.join(DATASETS)}, or all")
    names = list(DATASETS) if "all" in args.names else list(dict.fromkeys(args.names))
    ws = None if args.download_only else resolve_workspace(args.workspace)
    cache = Cache(args.cache or default_cache())
    mirror = args.mirror or os.environ.get(MIRROR_VAR) or None
    started = time.perf_counter()
    by_role, downloaded = download_all(names, cache, mirror, force=args.force, retries=args.retries)
    summary: dict[str, object] = {"datasets": names, "cache": str(cache.root), "downloaded": downloaded,
                                  "files": {role: [str(p) for p in paths] for role, paths in by_role.items() if paths}}
    if ws is not None:
        result = ingest(ws, ingest_request(by_role),
                        warn=lambda note: print(f"warning: {note}", file=sys.stderr))
        summary = {"workspace": str(ws.root), **summary, **result}
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fetch", help="download public datasets (Costanzo 2016, SGD genome, GO, Kuzmin 2018, DCell) "
        "and ingest them",
        description="Download the named public datasets into a cache folder (resuming interrupted "
        "downloads; a manifest records each file's size and sha256, and a file that changed since is "
        "refused without --force), then ingest them into the workspace. The only command that uses "
        "the network. Datasets: " + "; ".join(f"{d.name}: {d.title}" for d in DATASETS.values()),
    )
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"datasets: {', '.join(DATASETS)}, or all")
    parser.add_argument("--workspace", help="workspace to ingest into (default $CRE_WORKSPACE or workspace/demo)")
    parser.add_argument("--cache", type=Path,
                        help=f"download folder (default ${CACHE_VAR}, else ~/.cache/cre-fitness-lab)")
    parser.add_argument("--mirror", metavar="URL",
                        help=f"fetch every file from URL/PATH instead (default ${MIRROR_VAR}); PATH as --list shows")
    parser.add_argument("--force", action="store_true",
                        help="download again, and accept files that differ from the manifest")
    parser.add_argument("--download-only", action="store_true", help="fill the cache, ingest nothing")
    parser.add_argument("--retries", type=int, default=3, metavar="N",
                        help="resume a dropped download up to N times in a row (default 3)")
    parser.add_argument("--list", action="store_true", help="list the datasets, their files and URLs")
    parser.set_defaults(func=_fetch)
