"""embed/'s registry lists every embedder, the cached and the trained, and builds the cached ones."""

from __future__ import annotations

import pytest

from cre_core.embed import EMBEDDERS, REGISTRY, Embedder, make_embedder
from cre_core.embed.genes import GeneRepresentation
from cre_core.errors import CreError
from cre_core.train import options


def test_every_embedder_name_is_registered_with_its_class():
    assert list(REGISTRY) == ["kmer", "words", "random", "specieslm", "encoder", "id"]
    assert EMBEDDERS == ("kmer", "words", "random", "specieslm")          # what `embed` computes
    for name, info in REGISTRY.items():
        cls = info.load()
        base = Embedder if info.kind == "cached" else GeneRepresentation
        assert issubclass(cls, base), name
        assert info.help


def test_train_accepts_exactly_the_registered_embedders_and_auto():
    (choices,) = [spec.choices for spec in options() if spec.name == "embedder"]
    assert set(choices) == {"auto", *REGISTRY}


@pytest.mark.parametrize("name", ["kmer", "words", "random"])
def test_make_embedder_builds_the_cached_ones(name):
    assert make_embedder(name).name == name


def test_trained_and_unknown_names_are_refused_with_the_choices():
    with pytest.raises(CreError, match="trained with a model .*choose one of kmer, words, random, specieslm"):
        make_embedder("encoder")
    with pytest.raises(CreError, match="unknown embedder 'esm'"):
        make_embedder("esm")
