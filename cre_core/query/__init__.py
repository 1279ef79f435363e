"""Read paths: predictions and scans from trained runs (read-only: never writes a cache), partner
suggestions, gene sets typed or uploaded, and the Datasets page's store tables and SQL box.

The modules below are private; this is the surface pages, the CLI and benchmarks use. Importing
it loads no torch: the run-backed functions (``load_model``, ``predict_table``, ``scan``,
``suggest``...) load on first use. ``browse`` is the store-table module (``browse.browse`` pages
a table, ``browse.Filters`` ...).
"""

from typing import TYPE_CHECKING

from cre_core.lazy import lazy_attributes
from cre_core.query import browse
from cre_core.query.batch_csv import parse_names
from cre_core.query.browse import SIGNIFICANT_EPSILON, SIGNIFICANT_P
from cre_core.query.format import fmt_interval, fmt_support, fmt_value, tidy_zeros
from cre_core.query.gene_sets import MAX_SET_SIZE, check_sets, parse_csv
from cre_core.query.spread import PER_GENE, POLICIES, POLICY
from cre_core.query.sql_box import SqlBoxError, SqlResult, run_readonly_sql

if TYPE_CHECKING:
    from cre_core.query.service import LoadedRun, load_model, predict, predict_table, resolve_set, scan
    from cre_core.query.suggestions import score_pairs, suggest

__getattr__ = lazy_attributes(__name__, {
    "LoadedRun": "service", "load_model": "service", "predict": "service", "predict_table": "service",
    "resolve_set": "service", "scan": "service", "score_pairs": "suggestions", "suggest": "suggestions",
})

__all__ = [
    "MAX_SET_SIZE", "PER_GENE", "POLICIES", "POLICY", "SIGNIFICANT_EPSILON", "SIGNIFICANT_P", "LoadedRun",
    "SqlBoxError", "SqlResult", "browse",
    "check_sets", "fmt_interval", "fmt_support", "fmt_value", "load_model", "parse_csv", "parse_names",
    "predict", "predict_table", "resolve_set", "run_readonly_sql", "scan", "score_pairs", "suggest",
    "tidy_zeros",
]
