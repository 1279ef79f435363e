"""Training: the options (``TrainConfig``), the loop that fits, checkpoints and evaluates a model
from the store, run folders and the tables and comparisons built from them, background jobs.

The modules below are private; this is the surface pages, the CLI and benchmarks use. Importing
it loads no torch: the loop and the data path (``train_run``, ``load_sets``...) load on first use.
"""

from typing import TYPE_CHECKING

from cre_core.lazy import lazy_attributes
from cre_core.train import jobs, specs
from cre_core.train.compare import ceiling_note, compare_runs, control_verdicts
from cre_core.train.config import OptionSpec, TrainConfig, applies, migrate, options
from cre_core.train.run_tables import (
    FINISHED,
    LIVE,
    WT_VARIANTS,
    box_stats,
    collect_epochs,
    collect_steps,
    comparison_table,
    cross_validation_table,
    queryable,
    runs_with_configs,
    thin_steps,
    unseen_gene_warnings,
    wt_variant_configs,
)
from cre_core.train.runs import (
    UNREADABLE,
    list_runs,
    load_run,
    read_epoch_metrics,
    read_predictions,
    read_step_metrics,
    run_dir,
)
from cre_core.train.stability import spike_steps, spike_summary

if TYPE_CHECKING:
    from cre_core.train.data import load_sets, model_from_config
    from cre_core.train.loop import Engine, train_run

__getattr__ = lazy_attributes(__name__, {
    "train_run": "loop", "Engine": "loop", "load_sets": "data", "model_from_config": "data",
})

__all__ = [
    "FINISHED", "LIVE", "UNREADABLE", "WT_VARIANTS", "Engine",
    "OptionSpec", "TrainConfig", "applies", "box_stats", "ceiling_note", "collect_epochs", "collect_steps",
    "compare_runs", "comparison_table", "control_verdicts", "cross_validation_table", "jobs", "list_runs",
    "load_run", "load_sets", "migrate", "model_from_config", "options", "queryable", "read_epoch_metrics",
    "read_predictions", "read_step_metrics", "run_dir", "runs_with_configs", "specs", "spike_steps", "spike_summary",
    "thin_steps", "train_run", "unseen_gene_warnings", "wt_variant_configs",
]
