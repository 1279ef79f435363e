"""One training run's settings, each option defined once: type, default, bounds, choices, help.

``TrainConfig`` is a flat dataclass; every field is declared with ``option(...)``, which keeps
its help line, allowed values and bounds in the field's metadata. From that single definition
come validation (``TrainConfig.validate``), the CLI flags (``add_arguments``), the app's Train
form (``dashboard.train_form``) and the command line the app launches (``to_cli_args``).
To add an option: add one field here with ``option(default, help, ...)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cre_core.errors import CreError
from cre_core.train import specs

# Plain values (no torch import, so every CLI command starts fast); tests check they match
# cre_core.models.base.NORMS / POOLINGS, cre_core.models.interaction.PAIR_FROM and
# cre_core.models.dcell.PRECISIONS. The models are the registry's (cre_core.train.specs).
NORMS = ("none", "batch", "layer")
POOLINGS = ("sum", "mean")
PAIR_FROM = ("features", "trunk")
DCELL_PRECISIONS = ("fp32", "bf16")
ENCODER_INITS = ("enriched", "random")
# The options of the gene representation (--embedder and the sequence encoder's): they mean
# something only to models whose spec reads embeddings.
REPRESENTATION_OPTIONS = ("features", "embedder", "embed_model", "gene_dim", "encoder_filters", "encoder_block",
                          "encoder_width", "encoder_init", "encoder_pretrain", "encoder_lr", "encoder_sense_view")


def option(default: Any = dataclasses.MISSING, help: str = "", *, choices: tuple = (),
           at_least: float | None = None, above: float | None = None,
           below: float | None = None, at_most: float | None = None, step: float | None = None) -> Any:
    """A TrainConfig field with its help, choices and bounds (``at_least``/``above`` and
    ``below``/``at_most`` are the lowest allowed value, an exclusive lower and an exclusive
    upper bound, the highest allowed value); ``step`` is the form's increment. Sizes and
    counts have an upper bound far above any useful value, so that a typo or a visitor of a
    shared app cannot ask for a run that would hold the machine for days or exhaust memory."""
    meta = {"help": help, "choices": tuple(choices), "at_least": at_least, "above": above,
            "below": below, "at_most": at_most, "step": step}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class OptionSpec:
    """One option as the CLI, the form and validation see it."""

    name: str
    kind: type                 # int, float, str or bool
    default: Any               # dataclasses.MISSING when the option is required
    optional: bool             # None allowed (an empty value)
    help: str
    choices: tuple = ()
    at_least: float | None = None
    above: float | None = None
    below: float | None = None
    at_most: float | None = None
    step: float | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING

    @property
    def minimum(self) -> float | None:
        """The lowest value a widget may offer (exclusive bounds are left to validation)."""
        return self.at_least

    @property
    def maximum(self) -> float | None:
        """The highest value a widget may offer (exclusive bounds are left to validation)."""
        return self.at_most

    def bounds(self) -> str:
        """``at least 1``, ``above 0 and below 1``...; empty without bounds."""
        parts = [f"at least {self.at_least:g}" if self.at_least is not None else "",
                 f"above {self.above:g}" if self.above is not None else "",
                 f"below {self.below:g}" if self.below is not None else "",
                 f"at most {self.at_most:g}" if self.at_most is not None else ""]
        return " and ".join(p for p in parts if p)

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed for this option, or None when it is."""
        if value is None:
            return None if self.optional else "must be given"
        if self.kind is bool:
            return None if isinstance(value, bool) else f"must be true or false; got {value!r}"
        if self.kind is str:
            if not isinstance(value, str):
                return f"must be text; got {value!r}"
        elif self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return f"must be a whole number; got {value!r}"
        elif self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number; got {value!r}"
            if not math.isfinite(value):
                return f"must be a finite number; got {value!r}"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}; got {value!r}"
        if self.kind in (int, float) and not (
                (self.at_least is None or value >= self.at_least)
                and (self.above is None or value > self.above)
                and (self.below is None or value < self.below)
                and (self.at_most is None or value <= self.at_most)):
            return f"must be {self.bounds()}; got {value!r}"
        return None


@dataclass
class TrainConfig:
    """Everything a run needs to be reproduced (saved as the run's ``config.json``)."""

    model: str = option(help="the model to train: one of the --model groups below")
    features: str = option("both", "CRE windows embedded for each gene: downstream, upstream or "
                           "both (concatenated)", choices=("downstream", "upstream", "both"))
    split: str = option("random", "random: pairs split at random; gene: gene-disjoint (no test "
                        "gene in training)", choices=("random", "gene"))
    embedder: str = option("auto", "gene embedding: auto (the interaction model takes kmer or "
                           "words, whichever ridge ε map predicts held-out training pairs best "
                           "in cross-validation; other models take kmer), kmer (composition + "
                           "enriched 8-mer counts), words (the enriched 8-mer counts alone), "
                           "random (seeded Gaussian control), specieslm, id (a learned vector per "
                           "gene, no sequence: the identity control; --model deepset or "
                           "interaction), or encoder (a CNN over the "
                           "one-hot windows, trained with the model)",
                           choices=("auto", "kmer", "words", "random", "specieslm", "id", "encoder"))
    embed_model: str | None = option(None, "SpeciesLM weights (local folder or hub cache id) "
                                     "for --embedder specieslm")
    split_file: str | None = option(None, "CSV/TSV of gene_a, gene_b[, gene_c], split "
                                    "(train/val/test): a published split, used instead of --split")
    subset: int | None = option(None, "train on a seeded random subset of N pairs (before "
                                "splitting); all pairs when empty", at_least=1)
    epochs: int = option(30, "maximum number of passes over the training pairs", at_least=1, at_most=10_000)
    seed: int = option(0, "random seed of model initialisation and batch order", at_least=0)
    split_seed: int = option(0, "random seed of the subset and of the train/val/test split "
                             "(keep it to compare models)", at_least=0)
    val_frac: float = option(0.1, "validation share: of pairs (random split) or of genes "
                             "(gene split)", above=0, below=1, step=0.05)
    test_frac: float = option(0.2, "test share: of pairs (random split) or of genes (gene split)",
                              above=0, below=1, step=0.05)
    lr: float = option(1e-3, "AdamW learning rate", above=0, step=1e-4)
    weight_decay: float = option(1e-4, "AdamW weight decay", at_least=0, step=1e-5)
    batch_size: int = option(512, "strains per optimiser step (summed over processes under "
                             "torchrun)", at_least=1, at_most=1_048_576)
    hidden: int = option(128, "width of the per-gene network φ's output and of the pooled "
                         "network ρ's hidden layers", at_least=1, at_most=8_192)
    phi_layers: int = option(2, "number of Linear layers in the per-gene network φ", at_least=1, at_most=32)
    rho_layers: int = option(2, "number of Linear layers in the pooled network ρ (the last one "
                             "outputs fitness)", at_least=1, at_most=32)
    dropout: float = option(0.0, "dropout after every hidden layer (0 = none)", at_least=0,
                            below=1, step=0.05)
    norm: str = option("none", "normalisation in φ and ρ: none, batch or layer (wt-diff with "
                       "batch shows the wt_mean spikes)", choices=NORMS)
    pooling: str = option("sum", "how the deleted genes' φ vectors are combined: sum or mean",
                          choices=POOLINGS)
    gene_dim: int = option(64, "--embedder id: width of the learned per-gene vectors", at_least=1, at_most=8_192)
    clip: float | None = option(None, "clip the gradient norm to this value (empty = no "
                                "clipping)", above=0, step=0.5)
    wt_warmup: int = option(0, "wt-diff: first fit only the wild type to 1.0 for N steps",
                            at_least=0, at_most=1_000_000)
    wt_copies: int = option(1, "wt-diff: copies of the wild-type (no deletion) set added to "
                            "every batch", at_least=1, at_most=4_096)
    dcell_min_genes: int = option(6, "dcell: keep GO terms with at least this many genes (after "
                                  "propagation)", at_least=1)
    dcell_alpha: float = option(0.3, "dcell: weight of the per-term auxiliary losses",
                                at_least=0, step=0.05)
    dcell_precision: str = option("fp32", "dcell: fp32, or bf16 for the big terms' products "
                                  "(forward and backward; weights, gradients and BatchNorm "
                                  "statistics stay fp32): faster on CPUs with AMX and on GPUs, "
                                  "not exact", choices=DCELL_PRECISIONS)
    patience: int = option(5, "early stopping: stop after N epochs without a better validation "
                           "loss", at_least=1, at_most=10_000)
    device: str = option("auto", "auto (CUDA when available), cpu or cuda",
                         choices=("auto", "cpu", "cuda"))
    amp: bool = option(True, "bf16 autocast on CUDA (ignored on CPU)")
    log_every: int = option(0, "per-step metrics every N steps (0 = auto: every step up to "
                            "1,000 steps an epoch)", at_least=0)
    eval_batch_size: int = option(8192, "strains per batch when predicting validation and test "
                                  "sets", at_least=1, at_most=1_048_576)
    ensemble: int = option(1, "train K members (seeds seed..seed+K-1) as one run: predictions get "
                           "an 80-percent interval", at_least=1, at_most=64)
    smf_aware: bool = option(True, "interaction: use the measured single-mutant fitness where the "
                             "store has it (--no-smf-aware: predict it from the gene "
                             "representation, as for genes never measured)")
    interaction_weight: float = option(5.0, "interaction: weight of the loss on measured ε "
                                       "(doubles) and τ (triples)", at_least=0, step=0.1)
    rank: int = option(64, "interaction: width of the per-gene vectors of the pairwise ε and "
                       "triple τ terms", at_least=1, at_most=8_192)
    pair_from: str = option("features", "interaction: where the per-gene ε/τ vectors come from: "
                            "features (one linear map of the gene representation: ε is a "
                            "bilinear form of the two genes' features) or trunk (the hidden "
                            "layers φ that also give ŝ; can memorise genes by identity)",
                            choices=PAIR_FROM)
    pair_decay: float = option(1.0, "interaction with --pair-from features: AdamW weight decay of "
                               "that linear map (strong, so ε follows motifs shared between genes "
                               "rather than each gene's identity)", at_least=0, step=0.1)
    pair_ridge: bool = option(True, "interaction with --pair-from features: after training, "
                              "replace the ε map by its ridge-regression optimum (λ and rank "
                              "chosen by 5-fold cross-validation over held-out training genes, "
                              "or pairs on the random split) when that fits validation ε better "
                              "(--no-pair-ridge: keep the trained map)")
    encoder_filters: int = option(96, "--embedder encoder: number of first-layer PWM filters (each "
                                  "read on both strands)", at_least=1, below=1025)
    encoder_block: int = option(32, "--embedder encoder: a batch holds the pairs between two random "
                                "blocks of N genes (at most --batch-size of them), so a step encodes "
                                "at most 2N genes; 0 = batches of random pairs", at_least=0, at_most=65_536)
    encoder_width: int = option(15, "--embedder encoder: filter width in bp (10-bp motifs need at "
                                "least 10, a few more give context)", at_least=4, below=65)
    encoder_init: str = option("enriched", "--embedder encoder: enriched starts the first filters from "
                               "the genome's enriched 8-mers (kmer's unsupervised vocabulary, no "
                               "labels) for training to refine; random starts them all at random",
                               choices=ENCODER_INITS)
    encoder_pretrain: int = option(20, "--embedder encoder: first train it with the model for N "
                                   "epochs on the single mutants of the genes with training pairs, then freeze it "
                                   "(its vectors cached) for the epochs on every set; 0 = train it "
                                   "end to end on every set", at_least=0, at_most=10_000)
    encoder_lr: float = option(0.1, "--embedder encoder: learning rate of the first-layer filters "
                               "as a share of --lr (small: seeded filters are refined, not "
                               "overwritten, and have less room to fit single genes)", above=0,
                               step=0.05)
    encoder_sense_view: bool = option(True, "--embedder encoder: a view of the filters pooled on the sense "
                                      "strand (the gene's orientation) only, beside their pooling over "
                                      "either strand: the interaction model's features pair map reads it "
                                      "(its fitness trunk keeps the either-strand vector), models that "
                                      "read the whole vector read both (--no-encoder-sense-view: the "
                                      "either-strand vector alone)")
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()
        if self.embedder == "auto" and not self.uses_features_pair_map:   # auto weighs only ε maps
            self.embedder = "kmer"

    @property
    def spec(self) -> specs.ModelSpec:
        """The model's spec (what it reads, how it is built and trained)."""
        return specs.get(self.model)

    def validate(self) -> None:
        """Raise CreError (one line naming the option) on a value no run could use."""
        for option_spec in options():
            problem = option_spec.problem(getattr(self, option_spec.name))
            if problem:
                raise CreError(f"{option_spec.flag} {problem}")
        if self.val_frac + self.test_frac >= 1:
            raise CreError(f"--val-frac plus --test-frac must be below 1; got {self.val_frac:g} + "
                           f"{self.test_frac:g}")
        model = self.spec
        if self.embedder == "id" and not model.learned_genes:
            learned = ", ".join(m.name for m in specs.SPECS.values() if m.learned_genes)
            raise CreError(f"--embedder id is for --model {learned}")
        if model.table_only and self.embedder == "encoder":
            raise CreError(f"--model {self.model} is solved in closed form over a feature table: "
                           "--embedder kmer, words, random or specieslm, not encoder")

    @property
    def uses_features(self) -> bool:
        return self.spec.reads_embeddings and self.embedder != "id"

    @property
    def uses_windows(self) -> bool:
        """The model reads the genes' one-hot windows (the trainable sequence encoder)."""
        return self.uses_features and self.embedder == "encoder"

    @property
    def uses_features_pair_map(self) -> bool:
        """The interaction model's ε/τ vectors are one linear map of the representation
        (--pair-from features): what --pair-ridge solves and --embedder auto weighs."""
        return self.spec.pair_map(self)

    @property
    def uses_encoder_sense_view(self) -> bool:
        """The encoder adds its sense-strand view (--encoder-sense-view, where the model's spec
        has a reader for it)."""
        return self.uses_windows and self.spec.sense_view(self)

    @property
    def uses_table(self) -> bool:
        """The model reads a feature table from the embeddings layer."""
        return self.uses_features and self.embedder != "encoder"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config from a config.json of any version (see ``migrate``)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in migrate(data).items() if k in known})

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_cli_args(self) -> list[str]:
        """``--option value`` for every setting (None left out), parseable by ``add_arguments``."""
        args: list[str] = []
        for spec in options():
            value = getattr(self, spec.name)
            if value is None:
                continue
            if isinstance(value, bool):
                args.append(spec.flag if value else "--no-" + spec.flag[2:])
            else:
                args += [spec.flag, str(value)]
        return args


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A saved config in today's options and spellings, as the run was trained.

    Options a run was saved without take the value that reproduces it: before --pair-from the
    ε/τ vectors came from the trunk, before --pair-ridge the trained ε map stayed, before
    --dcell-precision DCell was fp32, before the encoder's sense-strand view it had the
    either-strand view alone, before --embedder auto the default was kmer. Old spellings: a
    renamed model (``gene-id`` is the DeepSet with --embedder id: ``specs.RENAMED``), the
    encoder's ``words`` start (``enriched``), and what a model's spec renames (the interaction
    model's --encoder-pair-view is --encoder-sense-view).
    """
    data = {"pair_from": "trunk", "pair_ridge": False, "dcell_precision": "fp32", "embedder": "kmer",
            "encoder_sense_view": False, **data}
    data.update(specs.RENAMED.get(data.get("model"), {}))
    if data.get("encoder_init") == "words":
        data["encoder_init"] = "enriched"
    model = specs.find(data.get("model"))
    return model.migrate(data) if model is not None and model.migrate is not None else data


def options() -> tuple[OptionSpec, ...]:
    """Every TrainConfig option (all fields but ``extra``), in the dataclass's order; the
    model's choices are the models registered now."""
    return tuple(dataclasses.replace(spec, choices=specs.names()) if spec.name == "model" else spec
                 for spec in _declared())


@functools.cache
def _declared() -> tuple[OptionSpec, ...]:
    hints = typing.get_type_hints(TrainConfig)
    specs = []
    for f in fields(TrainConfig):
        if f.name == "extra":
            continue
        args = [a for a in typing.get_args(hints[f.name]) if a is not type(None)]
        kind = args[0] if args else hints[f.name]
        specs.append(OptionSpec(name=f.name, kind=kind, default=f.default,
                                optional=type(None) in typing.get_args(hints[f.name]),
                                **f.metadata))
    return tuple(specs)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One CLI option per TrainConfig option, with its help, choices, default and bounds, in
    groups: the required model, the options every model reads, the gene representation's (for
    models that read embeddings), then one group per model with the options its spec claims (an option two
    models claim is listed under the first).

    Every default is None here so ``config_from_args`` can tell a given option from an
    omitted one (``--resume`` keeps the saved config unless an option overrides it).
    """
    required = parser.add_argument_group("required (except with --resume)")
    shared = parser.add_argument_group("options every model reads")
    readers = ", ".join(m.name for m in specs.SPECS.values() if m.reads_embeddings)
    representation = parser.add_argument_group(
        "gene representation", f"for the models that read one: {readers}")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for model in specs.SPECS.values():
        groups[model.name] = parser.add_argument_group(f"--model {model.name}", model.help)
    for spec in options():
        owners = specs.owners(spec.name)
        group = (required if spec.required else groups[owners[0]] if owners
                 else representation if spec.name in REPRESENTATION_OPTIONS else shared)
        group.add_argument(spec.flag, **_argument(spec))


def _argument(spec: OptionSpec) -> dict[str, Any]:
    """argparse's keyword arguments for one option."""
    notes = [] if spec.default in (None, dataclasses.MISSING) else [f"default {spec.default}"]
    notes += [spec.bounds()] if spec.bounds() else []
    shown = f" ({'; '.join(notes)})" if notes else ""
    kwargs: dict[str, Any] = {"help": spec.help + shown, "default": None, "dest": spec.name}
    if spec.choices:
        kwargs["choices"] = spec.choices
        kwargs["metavar"] = spec.name.upper() if spec.required else None
    if spec.kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif spec.kind in (int, float):
        kwargs["type"] = spec.kind
        kwargs["metavar"] = "N" if spec.kind is int else "X"
    return kwargs


def config_from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """A config from parsed options; options not given keep ``base``'s values (or defaults)."""
    given = {spec.name: getattr(args, spec.name) for spec in options()
             if getattr(args, spec.name, None) is not None}
    if base is not None:
        return TrainConfig.from_dict({**base.to_dict(), **given})
    if "model" not in given:
        raise CreError("--model is required (or --resume with --run-dir)")
    return TrainConfig(**given)
