"""Streamlit glue shared by the pages: the workspace chooser, error guard, store access.

Pages import from here and from the domain modules; nothing in here knows about one page.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import streamlit as st

from cre_core.errors import CreError
from cre_core.workspace import Workspace, resolve_workspace, store_error
from dashboard.safe_text import md, md_code

LOG = logging.getLogger("cre_app")
WORKSPACE_KEY = "workspace"
SHARED_ENV = "CRE_READONLY"      # 1: shared mode (README "Sharing the app")


def shared_mode() -> bool:
    """Browse and query only: no training, ingest, embedding, SQL box or workspace chooser.
    For an app that visitors share (an in-lab demo); set ``CRE_READONLY=1`` before starting it."""
    return os.environ.get(SHARED_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def shared_note(what: str) -> None:
    """The one line a page shows where shared mode hides ``what``."""
    st.caption(f":material/lock: Shared mode ({SHARED_ENV}=1): {what} is off in this app; "
               "run it from the command line or a private app.")


def workspace_sidebar() -> Workspace:
    """The sidebar's workspace chooser (default: $CRE_WORKSPACE, else workspace/demo)."""
    if WORKSPACE_KEY not in st.session_state or shared_mode():
        st.session_state[WORKSPACE_KEY] = str(resolve_workspace().root)
    with st.sidebar:
        st.text_input(
            "Workspace folder",
            key=WORKSPACE_KEY, disabled=shared_mode(),
            help="A folder holding cre.duckdb, embeddings/ and runs/. Every page reads from it."
                 + (" Fixed in shared mode." if shared_mode() else ""),
        )
        ws = current_workspace()
        if ws.exists():
            st.caption(f"Open: {md_code(ws.root.name)}")
        else:
            st.caption(":orange[No store here yet: see Home for how to build one.]")
    return ws


def current_workspace() -> Workspace:
    """The workspace chosen in the sidebar (or the default when a page runs on its own).

    A path no file system accepts stops the page with its one-line reason.
    """
    use_router()
    try:
        chosen = None if shared_mode() else st.session_state.get(WORKSPACE_KEY) or None
        return resolve_workspace(chosen)
    except CreError as exc:
        st.error(f"{md(exc)}. Fix the workspace folder in the sidebar.")
        st.stop()


def use_router() -> None:
    """Make sure app.py's st.navigation router is in charge, then carry on.

    Streamlit assumes the old ``pages/`` folder mechanism until the entry script has called
    st.navigation once in this server process, so a fresh server opened on a deep link
    (``/train``) would run the page file alone: no router, no workspace chooser, every file
    listed. Leaving that mode and rerunning makes app.py run and show the same page.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


@contextmanager
def guard(what: str = "this page") -> Iterator[None]:
    """Show errors as messages, never tracebacks: CreError as is, anything else logged."""
    try:
        yield
    except CreError as exc:
        st.error(md(exc))
    except (duckdb.IOException, duckdb.CatalogException) as exc:
        LOG.warning("store busy, unreadable or half-made: %s", exc)
        st.error(md(store_error(exc)))
    except Exception as exc:  # noqa: BLE001 - the page must survive anything
        LOG.exception("unexpected error in %s", what)
        st.error(f"Unexpected error in {md(what)}: {type(exc).__name__}: {md(exc)}. "
                 "The details are in the server log.")


@contextmanager
def store(ws: Workspace) -> Iterator[duckdb.DuckDBPyConnection]:
    """A brief read-only connection: opened per query so other processes can use the file."""
    con = ws.connect(read_only=True)
    try:
        yield con
    finally:
        con.close()


def require_store(ws: Workspace) -> bool:
    """True when the workspace has a store; otherwise explain how to make one."""
    if ws.exists():
        return True
    st.warning(f"No workspace store at {md_code(ws.root)}.")
    st.markdown("Build the demo workspace there, or ingest your own files, then reload:")
    st.code(f"python -m cre_core demo --workspace {ws.root} --preset small\n"
            f"python -m cre_core ingest --workspace {ws.root} --gff genome.gff --sga SGA_ExE.txt ...",
            language="bash")
    st.markdown("or type the folder of an existing workspace in the sidebar.")
    return False


def gene_label(gene: str, name: str | None) -> str:
    """``NAME (SYSTEMATIC)`` when the gene has a standard name, else the systematic name
    (markdown-escaped: names come from the user's GFF)."""
    return f"{md(name)} ({md(gene)})" if name and name != gene else md(gene)


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """A link to another page; plain text when the page is not registered (a page run alone)."""
    from streamlit.errors import StreamlitPageNotFoundError

    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitPageNotFoundError:
        st.markdown(f"- {md(label)}")
