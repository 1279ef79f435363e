"""The Train page's form: a widget per training option (from its spec), which a model uses."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from cre_core.train import OptionSpec, applies

# Settings shown up front on the form; every other field sits under "More options".
MAIN_FIELDS = ("model", "features", "embedder", "split", "epochs", "subset", "norm", "clip",
               "wt_warmup", "lr", "batch_size", "hidden", "seed", "device")
field_applies = applies      # the form shows a model only the options that mean something for it


def config_widget(spec: OptionSpec, container: Any = st, key_prefix: str = "cfg_") -> Any:
    """One training-option widget (bounds and steps from the option's spec); the chosen value."""
    label = spec.name.replace("_", " ")
    key = f"{key_prefix}{spec.name}"
    help_text = spec.help + ("  \nEmpty = none." if spec.optional else "")
    default = None if spec.default is dataclasses.MISSING else spec.default
    if spec.choices:
        options = list(spec.choices)
        index = options.index(default) if default in options else 0
        return container.selectbox(label, options, index=index, key=key, help=help_text)
    if spec.kind is bool:
        return container.checkbox(label, value=bool(default), key=key, help=help_text)
    if spec.kind in (int, float):
        kind = spec.kind
        kwargs = dict(min_value=kind(spec.minimum) if spec.minimum is not None else None,
                      max_value=kind(spec.maximum) if spec.maximum is not None else None,
                      step=1 if kind is int else (spec.step or None))
        if kind is float:
            kwargs["format"] = "%g"
        return container.number_input(label, value=default, key=key, help=help_text,
                                      placeholder="none" if spec.optional else None, **kwargs)
    text = container.text_input(label, value=default or "", key=key, help=help_text)
    return text.strip() or None
