"""One training run's settings: a flat dataclass shared by the CLI, the app's form and runs.

``FIELD_HELP`` holds one line of help per option; ``CHOICES`` the allowed values. argparse
options are generated from the dataclass (``add_arguments``), and ``to_cli_args`` turns a
config back into the command line the app launches (``python -m cre_core train ...``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cre_core.errors import CreError

# Plain values (no torch import, so every CLI command starts fast); tests check they match
# cre_core.models.MODELS / FEATURE_MODELS and cre_core.models.base.NORMS / POOLINGS.
MODELS = ("deepset", "wt-diff", "wt-anchored", "dcell", "mean", "multiplicative", "gene-id")
FEATURE_MODELS = ("deepset", "wt-diff", "wt-anchored")
NORMS = ("none", "batch", "layer")
POOLINGS = ("sum", "mean")

CHOICES: dict[str, tuple] = {
    "model": MODELS,
    "features": ("downstream", "upstream", "both"),
    "split": ("random", "gene"),
    "embedder": ("kmer", "random", "specieslm", "encoder"),
    "norm": NORMS,
    "pooling": POOLINGS,
    "device": ("auto", "cpu", "cuda"),
}

FIELD_HELP: dict[str, str] = {
    "model": "model: deepset, wt-diff, wt-anchored, dcell, mean, multiplicative, gene-id",
    "features": "CRE windows embedded for each gene: downstream, upstream or both (concatenated)",
    "split": "random: pairs split at random; gene: gene-disjoint (no test gene in training)",
    "embedder": "gene embedding: kmer spectrum, random (seeded Gaussian control), specieslm, or encoder "
                "(a CNN over the one-hot windows, trained with the model)",
    "embed_model": "SpeciesLM weights (local folder or hub cache id) for --embedder specieslm",
    "subset": "train on a seeded random subset of N pairs (before splitting); all pairs when empty",
    "epochs": "maximum number of passes over the training pairs",
    "seed": "seed of model initialisation and batch order",
    "split_seed": "seed of the subset and of the train/val/test split (keep it to compare models)",
    "val_frac": "validation share: of pairs (random split) or of genes (gene split)",
    "test_frac": "test share: of pairs (random split) or of genes (gene split)",
    "lr": "AdamW learning rate",
    "weight_decay": "AdamW weight decay",
    "batch_size": "strains per optimiser step (summed over processes under torchrun)",
    "hidden": "width of φ's output and ρ's hidden layers",
    "phi_layers": "number of Linear layers in φ",
    "rho_layers": "number of Linear layers in ρ (the last one outputs fitness)",
    "dropout": "dropout after every hidden layer (0 = none)",
    "norm": "normalisation in φ and ρ: none, batch or layer (wt-diff reproduces the seed with it)",
    "pooling": "how the deleted genes' φ vectors are combined: sum or mean",
    "gene_dim": "width of the learned per-gene vectors of gene-id",
    "clip": "clip the gradient norm to this value (empty = no clipping)",
    "wt_warmup": "wt-diff: first fit only the wild type to 1.0 for N steps (the seed's attempted fix)",
    "wt_copies": "wt-diff: wild-type sets batched with every batch (the seed's wild type)",
    "dcell_min_genes": "dcell: keep GO terms with at least this many genes (after propagation)",
    "dcell_alpha": "dcell: weight of the per-term auxiliary losses",
    "patience": "early stopping: stop after N epochs without a better validation loss",
    "device": "auto (CUDA when available), cpu or cuda",
    "amp": "bf16 autocast on CUDA (ignored on CPU)",
    "log_every": "per-step metrics every N steps (0 = auto: every step up to 1,000 steps an epoch)",
    "eval_batch_size": "strains per batch when predicting validation and test sets",
    "encoder_filters": "--embedder encoder: number of first-layer PWM filters (each read on both strands)",
    "encoder_width": "--embedder encoder: filter width in bp (at least 10 + context to read 10-bp motifs)",
}

# (low, high) bounds of the encoder's options
BOUNDS: dict[str, tuple[int, int]] = {"encoder_filters": (1, 1024), "encoder_width": (4, 64)}


@dataclass
class TrainConfig:
    """Everything a run needs to be reproduced (saved as the run's ``config.json``)."""

    model: str
    features: str = "both"
    split: str = "random"
    embedder: str = "kmer"
    embed_model: str | None = None
    subset: int | None = None
    epochs: int = 30
    seed: int = 0
    split_seed: int = 0
    val_frac: float = 0.1
    test_frac: float = 0.2
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 512
    hidden: int = 128
    phi_layers: int = 2
    rho_layers: int = 2
    dropout: float = 0.0
    norm: str = "none"
    pooling: str = "sum"
    gene_dim: int = 64
    clip: float | None = None
    wt_warmup: int = 0
    wt_copies: int = 1
    dcell_min_genes: int = 6
    dcell_alpha: float = 0.3
    patience: int = 5
    device: str = "auto"
    amp: bool = True
    log_every: int = 0
    eval_batch_size: int = 8192
    encoder_filters: int = 64
    encoder_width: int = 15
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise CreError on a value no run could use."""
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise CreError(f"--{_flag(name)} must be one of {', '.join(allowed)}; got {value!r}")
        for name in ("epochs", "batch_size", "hidden", "phi_layers", "rho_layers", "gene_dim",
                     "wt_copies", "dcell_min_genes", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise CreError(f"--{_flag(name)} must be at least 1")
        if self.subset is not None and self.subset < 1:
            raise CreError("--subset must be at least 1")
        if not (0 < self.val_frac < 1 and 0 < self.test_frac < 1 and self.val_frac + self.test_frac < 1):
            raise CreError("--val-frac and --test-frac must be in (0, 1) with a sum below 1")
        if self.lr <= 0:
            raise CreError("--lr must be positive")
        if self.clip is not None and self.clip <= 0:
            raise CreError("--clip must be positive")
        for name, (low, high) in BOUNDS.items():
            if not low <= getattr(self, name) <= high:
                raise CreError(f"--{_flag(name)} must be between {low} and {high}")

    @property
    def uses_features(self) -> bool:
        return self.model in FEATURE_MODELS

    @property
    def uses_windows(self) -> bool:
        """The model reads the genes' one-hot windows (the trainable sequence encoder)."""
        return self.uses_features and self.embedder == "encoder"

    @property
    def uses_table(self) -> bool:
        """The model reads a feature table from the embeddings layer."""
        return self.uses_features and self.embedder != "encoder"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_cli_args(self) -> list[str]:
        """``--option value`` for every setting (None left out), parseable by ``add_arguments``."""
        args: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or value is None:
                continue
            if isinstance(value, bool):
                args.append(f"--{_flag(f.name)}" if value else f"--no-{_flag(f.name)}")
            else:
                args += [f"--{_flag(f.name)}", str(value)]
        return args


def _flag(name: str) -> str:
    return name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field, help from FIELD_HELP, choices from CHOICES.

    Every default is None here so ``config_from_args`` can tell a given option from an
    omitted one (``--resume`` keeps the saved config unless an option overrides it).
    """
    defaults = TrainConfig.__dataclass_fields__
    for f in fields(TrainConfig):
        if f.name == "extra":
            continue
        default = defaults[f.name].default
        shown = "" if default is dataclasses.MISSING else f" (default {default})"
        kwargs: dict[str, Any] = {"help": FIELD_HELP[f.name] + shown, "default": None}
        if f.name in CHOICES:
            kwargs["choices"] = CHOICES[f.name]
        if f.type in ("bool",) or isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif isinstance(default, float) or f.name in ("clip",):
            kwargs["type"] = float
        elif isinstance(default, int) or f.name in ("subset",):
            kwargs["type"] = int
        parser.add_argument(f"--{_flag(f.name)}", dest=f.name, **kwargs)


def config_from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """A config from parsed options; options not given keep ``base``'s values (or defaults)."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
             if f.name != "extra" and getattr(args, f.name, None) is not None}
    if base is not None:
        return TrainConfig.from_dict({**base.to_dict(), **given})
    if "model" not in given:
        raise CreError("--model is required (or --resume with --run-dir)")
    return TrainConfig(**given)
