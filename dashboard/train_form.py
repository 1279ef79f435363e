"""The Train page's form: one widget per TrainConfig option, and which options a model uses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import streamlit as st

from cre_core.train.config import CHOICES, FIELD_HELP, TrainConfig
from cre_core.train.run_tables import WT_MODELS

# Settings shown up front on the form; every other field sits under "More options".
MAIN_FIELDS = ("model", "features", "embedder", "split", "epochs", "subset", "norm", "clip",
               "wt_warmup", "lr", "batch_size", "hidden", "seed", "device")
# Options relevant to one model only (hidden on the form for other models).
MODEL_ONLY = {
    "wt_warmup": WT_MODELS[:1], "wt_copies": WT_MODELS[:1],
    "dcell_min_genes": ("dcell",), "dcell_alpha": ("dcell",), "gene_dim": ("gene-id",),
}
NO_FEATURES = ("features", "embedder", "embed_model")
# Lower bounds on the form (TrainConfig.validate has the final word).
AT_LEAST = {
    **dict.fromkeys(("epochs", "batch_size", "hidden", "phi_layers", "rho_layers", "gene_dim",
                     "wt_copies", "dcell_min_genes", "eval_batch_size", "subset", "patience"), 1),
    **dict.fromkeys(("seed", "split_seed", "wt_warmup", "dropout", "weight_decay", "log_every",
                     "dcell_alpha"), 0),
}


@dataclass(frozen=True)
class FieldSpec:
    """One form widget: name, kind (choice/int/float/bool/text), default, optional, help."""

    name: str
    kind: str
    default: Any
    optional: bool = False            # None allowed ("empty" on the form)
    choices: tuple = ()
    help: str = ""
    minimum: float | None = None
    step: float | None = None


def form_fields() -> list[FieldSpec]:
    """A widget spec for every TrainConfig option, in the dataclass's order."""
    specs = []
    hints = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    for f in dataclasses.fields(TrainConfig):
        if f.name == "extra":
            continue
        default = None if f.default is dataclasses.MISSING else f.default
        hint = str(hints[f.name])
        optional = "None" in hint
        if f.name in CHOICES:
            kind = "choice"
        elif "bool" in hint:
            kind = "bool"
        elif "float" in hint:
            kind = "float"
        elif "int" in hint:
            kind = "int"
        else:
            kind = "text"
        minimum = AT_LEAST.get(f.name)
        step = {"lr": 1e-4, "weight_decay": 1e-5, "val_frac": 0.05, "test_frac": 0.05,
                "dropout": 0.05, "clip": 0.5, "dcell_alpha": 0.05}.get(f.name)
        specs.append(FieldSpec(f.name, kind, default, optional, tuple(CHOICES.get(f.name, ())),
                               FIELD_HELP.get(f.name, ""), minimum, step))
    return specs


def field_applies(name: str, model: str) -> bool:
    """Whether an option means anything for ``model`` (others are hidden on the form)."""
    from cre_core.models import FEATURE_MODELS

    if name in NO_FEATURES and model not in FEATURE_MODELS:
        return False
    if name in MODEL_ONLY and model not in MODEL_ONLY[name]:
        return False
    return True


def config_widget(spec, container=st, key_prefix: str = "cfg_"):
    """One training-option widget from a FieldSpec; returns the chosen value."""
    label = spec.name.replace("_", " ")
    key = f"{key_prefix}{spec.name}"
    help_text = spec.help + ("  \nEmpty = none." if spec.optional else "")
    if spec.kind == "choice":
        options = list(spec.choices)
        index = options.index(spec.default) if spec.default in options else 0
        return container.selectbox(label, options, index=index, key=key,
                                   help=help_text)
    if spec.kind == "bool":
        return container.checkbox(label, value=bool(spec.default), key=key, help=help_text)
    if spec.kind in ("int", "float"):
        integer = spec.kind == "int"
        value = spec.default if spec.default is not None else None
        kwargs = dict(min_value=(int(spec.minimum) if integer else float(spec.minimum))
                      if spec.minimum is not None else None,
                      step=1 if integer else (spec.step or None))
        if not integer:
            kwargs["format"] = "%g"
        return container.number_input(label, value=value, key=key, help=help_text,
                                      placeholder="none" if spec.optional else None, **kwargs)
    text = container.text_input(label, value=spec.default or "", key=key, help=help_text)
    return text.strip() or None
