"""One training run's settings, each option defined once: type, default, bounds, choices, help.

``TrainConfig`` holds the options every model (or every gene representation) reads, and one
section per model with options of its own (``config.dcell.alpha``), declared in the model's
spec module (cre_core.train.specs). Every field is declared with ``option(...)``, which keeps
its help line, allowed values and bounds in the field's metadata. From that single definition
come validation (``TrainConfig.validate``), the CLI flags and ``train --help``'s groups
(``add_arguments``), the app's Train form (``dashboard.train_form``: a model shows only its own
options) and the command line the app launches (``to_cli_args``). An option has one flat name
(its flag without ``--``, the form's key): ``dcell_alpha`` for ``config.dcell.alpha``.
config.json holds the nested form; ``migrate`` reads any older one.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cre_core.errors import CreError
from cre_core.train import specs
from cre_core.train.option_spec import OptionSpec, option
from cre_core.train.specs.dcell import DCellOptions
from cre_core.train.specs.interaction import InteractionOptions
from cre_core.train.specs.wt import WtOptions

# Plain values (no torch import, so every CLI command starts fast); tests check they match
# cre_core.models.base.NORMS / POOLINGS. The models are the registry's (cre_core.train.specs).
NORMS = ("none", "batch", "layer")
POOLINGS = ("sum", "mean")
ENCODER_INITS = ("enriched", "random")
# The options of the gene representation (--embedder and the sequence encoder's): they mean
# something only to models whose spec reads embeddings.
REPRESENTATION_OPTIONS = ("features", "embedder", "embed_model", "gene_dim", "encoder_filters", "encoder_block",
                          "encoder_width", "encoder_init", "encoder_pretrain", "encoder_lr", "encoder_sense_view")


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
    # each model's own options (a section: its spec names it)
    wt: WtOptions = field(default_factory=WtOptions)
    dcell: DCellOptions = field(default_factory=DCellOptions)
    interaction: InteractionOptions = field(default_factory=InteractionOptions)
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
            problem = option_spec.problem(self.value(option_spec))
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

    def run_labels(self) -> dict[str, Any]:
        """What a run's summary names it by: model, features and split, and the embedder (None
        for what the model does not read)."""
        return {"model": self.model, "features": self.features if self.uses_features else None,
                "split": self.split, "embedder": self.embedder if self.spec.reads_embeddings else None}

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

    def value(self, option_spec: OptionSpec) -> Any:
        """The value of one option (a section's field for a model's own option)."""
        value: Any = self
        for attr in option_spec.path:
            value = getattr(value, attr)
        return value

    def flat(self) -> dict[str, Any]:
        """Every option by its flat name (and ``extra``): what ``of`` takes."""
        return {**{o.name: self.value(o) for o in options()}, "extra": self.extra}

    def to_dict(self) -> dict[str, Any]:
        """The nested form config.json holds."""
        return dataclasses.asdict(self)

    @classmethod
    def of(cls, **given: Any) -> TrainConfig:
        """A config from options by flat name (``rank=16``, ``dcell_alpha=0.1``); the rest default."""
        top: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {name: {} for name in _sections()}
        for key, value in given.items():
            spec = _by_name().get(key)
            if spec is not None and len(spec.path) == 2:
                nested[spec.path[0]][spec.path[1]] = value
            else:
                top[key] = value          # a misspelt name is a TypeError, as for any keyword
        return cls(**top, **{name: kind(**nested[name]) for name, kind in _sections().items()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config from a config.json of any version, nested or flat (see ``migrate``)."""
        known = _by_name().keys() | {"extra"}
        return cls.of(**{k: v for k, v in migrate(data).items() if k in known})

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_cli_args(self) -> list[str]:
        """``--option value`` for every setting (None left out), parseable by ``add_arguments``."""
        args: list[str] = []
        for spec in options():
            value = self.value(spec)
            if value is None:
                continue
            if isinstance(value, bool):
                args.append(spec.flag if value else "--no-" + spec.flag[2:])
            else:
                args += [spec.flag, str(value)]
        return args


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A saved config (nested, or flat as saved before the sections) by flat option names, in
    today's options and spellings, as the run was trained.

    Options a run was saved without take the value that reproduces it: before --pair-from the
    ε/τ vectors came from the trunk, before --pair-ridge the trained ε map stayed, before
    --dcell-precision DCell was fp32, before the encoder's sense-strand view it had the
    either-strand view alone, before --embedder auto the default was kmer. Old spellings: a
    renamed model (``gene-id`` is the DeepSet with --embedder id: ``specs.RENAMED``), the
    encoder's ``words`` start (``enriched``), and what a model's spec renames (the interaction
    model's --encoder-pair-view is --encoder-sense-view).
    """
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in _sections() and isinstance(value, dict):
            flat.update({o.name: value[o.path[1]] for o in _declared() if o.path[:1] == (key,) and o.path[1] in value})
        else:
            flat[key] = value
    data = {"pair_from": "trunk", "pair_ridge": False, "dcell_precision": "fp32", "embedder": "kmer",
            "encoder_sense_view": False, **flat}
    data.update(specs.RENAMED.get(str(data.get("model")), {}))
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
def _sections() -> dict[str, type]:
    """TrainConfig's sections (a model's own options) by attribute name."""
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in fields(TrainConfig) if dataclasses.is_dataclass(hints[f.name])}


@functools.cache
def _declared() -> tuple[OptionSpec, ...]:
    """Every option in the dataclass's order, a section's options in the section's place."""
    return tuple(_fields_of(TrainConfig, None))


@functools.cache
def _by_name() -> dict[str, OptionSpec]:
    return {o.name: o for o in _declared()}


def _fields_of(kind: type, section: str | None) -> list[OptionSpec]:
    """The options declared by ``kind``'s fields (but ``extra``), a section's by its own fields."""
    hints = typing.get_type_hints(kind)
    out: list[OptionSpec] = []
    for f in fields(kind):
        if f.name == "extra":
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            out += _fields_of(hints[f.name], f.name)
            continue
        args = [a for a in typing.get_args(hints[f.name]) if a is not type(None)]
        meta = dict(f.metadata)
        name = meta.pop("name", None) or (f"{section}_{f.name}" if section else f.name)
        out.append(OptionSpec(name=name, kind=args[0] if args else hints[f.name], default=f.default,
                              optional=type(None) in typing.get_args(hints[f.name]),
                              path=(section, f.name) if section else (f.name,), **meta))
    return out


def applies(name: str, model: str) -> bool:
    """Whether the option ``name`` means anything for ``model``: a section's options for the
    model whose spec names that section only, the representation's for models that read one."""
    spec, option_spec = specs.get(model), _by_name()[name]
    if len(option_spec.path) == 2:
        return option_spec.path[0] == spec.section
    return spec.reads_embeddings or name not in REPRESENTATION_OPTIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One CLI option per TrainConfig option, with its help, choices, default and bounds, in
    groups: the required model, the options every model reads, the gene representation's (for
    models that read embeddings), then one group per model with the options of its section.

    Every default is None here so ``config_from_args`` can tell a given option from an
    omitted one (``--resume`` keeps the saved config unless an option overrides it).
    """
    required = parser.add_argument_group("required (except with --resume)")
    shared = parser.add_argument_group("options every model reads")
    readers = ", ".join(m.name for m in specs.SPECS.values() if m.reads_embeddings)
    representation = parser.add_argument_group(
        "gene representation", f"for the models that read one: {readers}")
    sections: dict[str | None, argparse._ArgumentGroup] = {}
    for model in specs.SPECS.values():
        group = parser.add_argument_group(f"--model {model.name}", model.help)
        sections.setdefault(model.section, group)
    for spec in options():
        if spec.required:
            group = required
        elif len(spec.path) == 2:
            group = sections[spec.path[0]]
        else:
            group = representation if spec.name in REPRESENTATION_OPTIONS else shared
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
        return TrainConfig.of(**{**base.flat(), **given})
    if "model" not in given:
        raise CreError("--model is required (or --resume with --run-dir)")
    return TrainConfig.of(**given)
