"""Browser fixtures: a real `streamlit run` on a free port, driven by headless Debian Chromium.

The server fixture is module-scoped (one server per test module) and waits the way Streamlit's
own e2e suite does: poll /_stcore/health, then wait for the app to be idle
(`[data-testid='stApp'][data-test-script-state='notRunning']`, no `stSkeleton` left).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cre_core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


@dataclass
class AppServer:
    url: str
    workspace: Workspace
    process: subprocess.Popen
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit did not become healthy in {timeout} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """Stop the server we started (its own process group), politely first."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def cli(ws: Workspace, *args: str) -> None:
    """Run ``python -m cre_core ...`` on ``ws`` as a user would."""
    out = subprocess.run([sys.executable, "-m", "cre_core", *args, "--workspace", str(ws.root)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]


def prepare_workspace(source: Workspace, root: Path) -> Workspace:
    """A private copy of the tiny demo with k-mer embeddings and two short wt runs (a wt-diff
    under BatchNorm and the anchored model), so every page has something to show; the tests
    launch more runs into it from the browser."""
    shutil.copytree(source.root, root, ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(root)
    cli(ws, "embed", "--embedder", "kmer")
    common = ("--epochs", "1", "--subset", "1500", "--batch-size", "128", "--norm", "batch")
    cli(ws, "train", "--model", "wt-diff", *common)
    cli(ws, "train", "--model", "wt-anchored", *common)
    return ws


@pytest.fixture(scope="module")
def app_server(tiny_workspace, tmp_path_factory) -> Iterator[AppServer]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does this)")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)        # artefacts of this run only
    base = tmp_path_factory.mktemp("e2e")
    with serve(prepare_workspace(tiny_workspace, base / "ws"), base) as server:
        yield server


@pytest.fixture(scope="module")
def real_app_server(real_workspace, tmp_path_factory) -> Iterator[AppServer]:
    """The app on a copy of the real workspace (../shared/realdata) with k-mer embeddings and two
    short runs (deepset on kmer and on learned per-gene vectors, one epoch on a seeded subset of
    2,000 strains)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does this)")
    base = tmp_path_factory.mktemp("e2e-real")
    shutil.copytree(real_workspace.root, base / "ws", ignore=shutil.ignore_patterns("runs"))
    ws = Workspace(base / "ws")
    cli(ws, "embed", "--embedder", "kmer")
    for embedder in ("kmer", "id"):
        cli(ws, "train", "--model", "deepset", "--embedder", embedder, "--epochs", "1", "--subset", "2000",
            "--batch-size", "128")
    with serve(ws, base) as server:
        yield server


@contextmanager
def serve(ws: Workspace, base: Path) -> Iterator[AppServer]:
    """``streamlit run app.py`` on ``ws`` (a free port, its log in ``base``), stopped afterwards."""
    port = free_port()
    url = f"http://localhost:{port}"
    log = base / "streamlit.log"
    env = {**os.environ, "CRE_WORKSPACE": str(ws.root), "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "localhost",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_healthy(url, process, log)
        yield AppServer(url, ws, process, log)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        context.close()


def errors_on(page) -> list[str]:
    """Texts of exception boxes and error alerts currently shown."""
    boxes = page.locator("[data-testid='stException'], [data-testid='stAlertContentError']")
    return [boxes.nth(i).inner_text() for i in range(boxes.count())]


def wait_for_app(page, timeout: float = 60_000) -> None:
    """Wait until the script has finished running and no skeleton placeholders are left."""
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_function(
        "() => document.querySelectorAll(\"[data-testid='stSkeleton']\").length === 0",
        timeout=timeout,
    )
    # A rerun may start right after; settle once more.
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=timeout)


def screenshot(page, name: str) -> Path:
    """Save the whole page: Streamlit scrolls inside stMain, so grow the viewport to fit it."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(
        "() => { const m = document.querySelector(\"[data-testid='stMain']\");"
        " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": size["width"], "height": min(max(int(height), size["height"]), 8000)})
    page.wait_for_timeout(400)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
