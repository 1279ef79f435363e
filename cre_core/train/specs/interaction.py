"""The interaction model: ŝ per gene times, plus explicit ε/τ terms of per-gene vectors
(:mod:`cre_core.models.interaction`); after training, its features pair map may be replaced by
its ridge optimum (``--pair-ridge``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from cre_core.train.option_spec import option
from cre_core.train.specs.base import BuildInputs, ModelSpec

if TYPE_CHECKING:
    from cre_core.models import FitnessModel
    from cre_core.train.config import TrainConfig


PAIR_FROM = ("features", "trunk")   # cre_core.models.interaction.PAIR_FROM (tests check they match)


@dataclass
class InteractionOptions:
    """The interaction model's options (``config.interaction``; flags as before the sections)."""

    smf_aware: bool = option(True, "interaction: use the measured single-mutant fitness where the "
                             "store has it (--no-smf-aware: predict it from the gene "
                             "representation, as for genes never measured)", name="smf_aware")
    weight: float = option(5.0, "interaction: weight of the loss on measured ε (doubles) and τ "
                           "(triples)", at_least=0, step=0.1)
    rank: int = option(64, "interaction: width of the per-gene vectors of the pairwise ε and "
                       "triple τ terms", at_least=1, at_most=8_192, name="rank")
    pair_from: str = option("features", "interaction: where the per-gene ε/τ vectors come from: "
                            "features (one linear map of the gene representation: ε is a "
                            "bilinear form of the two genes' features) or trunk (the hidden "
                            "layers φ that also give ŝ; can memorise genes by identity)",
                            choices=PAIR_FROM, name="pair_from")
    pair_decay: float = option(1.0, "interaction with --pair-from features: AdamW weight decay of "
                               "that linear map (strong, so ε follows motifs shared between genes "
                               "rather than each gene's identity)", at_least=0, step=0.1, name="pair_decay")
    pair_ridge: bool = option(True, "interaction with --pair-from features: after training, "
                              "replace the ε map by its ridge-regression optimum (λ and rank "
                              "chosen by 5-fold cross-validation over held-out training genes, "
                              "or pairs on the random split) when that fits validation ε better "
                              "(--no-pair-ridge: keep the trained map)", name="pair_ridge")


def _build(inputs: BuildInputs) -> FitnessModel:
    from cre_core.models import FeatureTable, InteractionModel, LearnedGenes

    c, o, genes = inputs.config, inputs.config.interaction, inputs.genes
    if genes is None:
        genes = (LearnedGenes(inputs.n_genes, c.gene_dim) if c.embedder == "id"
                 else FeatureTable(inputs.n_genes, inputs.in_dim))
    return InteractionModel(genes, hidden=c.hidden, phi_layers=c.phi_layers, rank=o.rank, norm=c.norm,
                            dropout=c.dropout, smf=inputs.smf, smf_aware=o.smf_aware,
                            interaction_weight=o.weight, pair_from=o.pair_from, pair_decay=o.pair_decay)


def _pair_map(config: TrainConfig) -> bool:
    return config.interaction.pair_from == "features"


def _sense_view(config: TrainConfig) -> bool:
    """The features ε map reads the sense-strand view (the trunk keeps the either-strand one)."""
    return config.encoder_sense_view and _pair_map(config)


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Configs saved before the merge named the ε map's sense view --encoder-pair-view (their
    --encoder-sense-view meant the other models' view: the interaction model ignored it)."""
    out = {k: v for k, v in data.items() if k != "encoder_pair_view"}
    if "encoder_pair_view" in data:
        out["encoder_sense_view"] = data["encoder_pair_view"]
    return out


def refit_pairs(run: Any) -> None:
    """--pair-ridge: the best checkpoint's ε map replaced by its ridge optimum
    (train/pair_ridge.py) when that fits validation ε better and does not fit validation
    fitness (every set size, early stopping's criterion) worse: τ̂ was trained beside the
    old map, so a better ε alone can still cost the triples."""
    from cre_core import runtime
    from cre_core.models import InteractionModel
    from cre_core.runtime import StopRequested
    from cre_core.train.checkpoint import load_checkpoint
    from cre_core.train.pair_ridge import Stopped, refit

    if not (run.config.interaction.pair_ridge and _pair_map(run.config)):
        return
    best = run.checkpoints.best_path
    if not best.exists():
        return
    saved = load_checkpoint(best, map_location=run.device)
    run.core.load_state_dict(saved["model"])
    t0 = time.perf_counter()
    try:
        fit = refit(cast(InteractionModel, run.core), run.table.idx, run.table.interaction,
                    run.split.train, run.split.val, run.folds_by(), run.config.split_seed,
                    should_stop=runtime.stop_requested, echo=run.echo)
    except Stopped as exc:           # last.pt is the end of the epochs: a resume refits
        run.echo(str(exc))
        run.core.load_state_dict(saved["model"])
        run.save_last(run.position["epoch"], 0)
        raise StopRequested() from exc
    if fit["used"]:
        mse = run.validate()["mse"]
        fit["val_mse"], fit["trained_val_mse"] = mse, saved["val_loss"]
        if mse <= saved["val_loss"]:
            run.checkpoints.save_best(run.core, saved["epoch"], mse)
        else:
            run.core.load_state_dict(saved["model"])
            fit["used"] = False
            fit["reason"] = f"validation fitness MSE {mse:.5f} above the trained map's {saved['val_loss']:.5f}"
    run.notes["pair_ridge"] = fit
    if "reason" in fit:
        run.echo(f"pair ridge: kept the trained map ({fit['reason']})")
    else:
        done = f"λ {fit['chosen']['lambda']:g}" if fit["used"] else "kept the trained map"
        run.echo(f"pair ridge: {done}; validation ε MSE {fit['chosen']['val_eps_mse']:.5f} against "
                 f"{fit['trained_map']['val_eps_mse']:.5f} for the trained map "
                 f"({time.perf_counter() - t0:.1f} s)")


INTERACTION = ModelSpec(
    name="interaction", help="ŝ per gene times, plus explicit ε/τ terms of per-gene vectors",
    build=_build, reads_embeddings=True, learned_genes=True,
    section="interaction",
    pair_map=_pair_map, sense_view=_sense_view, post_fit=refit_pairs, migrate=_migrate)
