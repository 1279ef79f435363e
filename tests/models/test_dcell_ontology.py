"""DCell's ontology over the genes the training sets delete, its plan (shape, parameters, memory)
as the run logs it, and the one-line refusal of an ontology that will not fit in memory."""

from __future__ import annotations

import pytest
import torch

from cre_core import runtime
from cre_core.data.go import build_ontology
from cre_core.errors import CreError
from cre_core.models.dcell import DCell, check_fits, plan
from cre_core.train import data as D
from cre_core.train.config import TrainConfig
from cre_core.train.loop import train_run

# R ─┬─ A (g0-g9) ── C (g0-g5)
#    └─ B (g10-g17);  g18, g19 annotated to R itself
GENES = [f"g{i}" for i in range(20)]
TERMS = ["R", "A", "B", "C"]
EDGES = [("A", "R"), ("B", "R"), ("C", "A")]
ANN = ([(f"g{i}", "A") for i in range(10)] + [(f"g{i}", "C") for i in range(6)]
       + [(f"g{i}", "B") for i in range(10, 18)] + [("g18", "R"), ("g19", "R")])


def test_every_gene_counts_without_counted():
    onto = build_ontology(GENES, TERMS, EDGES, ANN, min_genes=6)
    t = {name: i for i, name in enumerate(onto.terms)}
    assert set(t) == {"R", "A", "B", "C"}
    assert onto.size[t["R"]] == 20 and onto.size[t["C"]] == 6
    assert sorted(onto.direct[t["R"]]) == [18, 19] and sorted(onto.direct[t["A"]]) == [6, 7, 8, 9]


def test_only_deleted_genes_size_and_feed_terms():
    """Genes no training set deletes neither size a term (C falls below six genes) nor feed one."""
    deleted = [g for g in GENES if g not in ("g0", "g1", "g18")]
    onto = build_ontology(GENES, TERMS, EDGES, ANN, min_genes=6, counted=deleted)
    t = {name: i for i, name in enumerate(onto.terms)}
    assert set(t) == {"R", "A", "B"}                           # C keeps 4 deleted genes: dropped
    assert onto.size[t["A"]] == 8 and onto.size[t["R"]] == 17
    assert sorted(onto.direct[t["A"]]) == list(range(2, 10))  # C's deleted genes reach A
    assert onto.direct[t["R"]] == [19]
    assert all(g not in (0, 1, 18) for genes in onto.gene_sets() for g in genes)


@pytest.mark.parametrize("group_size", [1, 2, 256])
def test_plan_counts_the_model_parameters(group_size):
    onto = build_ontology(GENES, TERMS, EDGES, ANN, min_genes=6)
    shape = plan(onto, batch=64, group_size=group_size)
    model = DCell(len(GENES), onto, group_size=group_size)
    assert shape.parameters == sum(p.numel() for p in model.parameters())
    assert (shape.terms, shape.levels, shape.units) == (4, 3, 80)
    assert shape.train_bytes > 16 * shape.parameters
    assert shape.line().startswith(f"dcell ontology: 4 terms, 3 levels, 80 units, {shape.parameters:,} parameters")


def _tiny_memory(monkeypatch):
    """This machine reports 40 kB of memory."""
    monkeypatch.setattr(runtime.os, "sysconf", lambda name: 10 if name == "SC_PHYS_PAGES" else 4096)


def test_an_ontology_too_big_for_memory_is_refused_in_one_line(monkeypatch):
    shape = plan(build_ontology(GENES, TERMS, EDGES, ANN, min_genes=6), batch=64)
    check_fits(shape, *runtime.device_memory(torch.device("cpu")))                        # fits this machine
    _tiny_memory(monkeypatch)
    with pytest.raises(CreError, match="more than this machine's 0 GB of memory") as err:
        check_fits(shape, *runtime.device_memory(torch.device("cpu")))
    assert "\n" not in str(err.value) and "fewer genes (--subset, --split-file)" in str(err.value)


QUICK = {"epochs": 1, "batch_size": 64, "dcell_min_genes": 4, "device": "cpu"}


def test_a_run_logs_the_ontology_it_trains_and_refuses_one_that_does_not_fit(ws, monkeypatch):
    lines: list[str] = []
    summary = train_run(ws, TrainConfig.of(model="dcell", **QUICK), echo=lines.append)
    assert summary["status"] == "done"
    logged = [line for line in lines if line.startswith("dcell ontology: ")]
    assert len(logged) == 1
    # the ontology of the training split's genes, as the run built it
    table, split = D.training_rows(ws, TrainConfig.of(model="dcell", **QUICK))
    onto = D.load_ontology(ws, table.genes, 4, D.deleted_genes(table, split.train))
    assert logged[0] == plan(onto, 64).line()
    assert f"{plan(onto, 64).parameters:,} parameters" in next(line for line in lines if line.startswith("dcell: "))
    _tiny_memory(monkeypatch)
    with pytest.raises(CreError, match="^dcell ontology: .* more than this machine's"):
        train_run(ws, TrainConfig.of(model="dcell", **QUICK), echo=lines.append)


def test_the_real_go_gives_dcells_own_wiring_of_nuclear_chromatin(real_workspace):
    """DCell's topology file for GO:0000790 (the paper's ontology for that subsystem): every edge
    between two terms our rules keep on the 2019 GO is ours too, and no term of ours under it has
    fewer than six training genes (gene counts differ: our annotations are SGD's of 2023)."""
    from tests.realdata import REALDATA

    edges, parent = set(), None
    for line in (REALDATA / "dcell" / "GO_0000790_topology").read_text().splitlines():
        if line.startswith("ROOT:"):
            parent = line.split()[1]
        elif line.startswith("TERMS:"):
            edges |= {(parent, child) for child in line.split()[1:]}
    table, split = D.training_rows(real_workspace, TrainConfig.of(model="dcell"))
    deleted = D.deleted_genes(table, split.train)
    onto = D.load_ontology(real_workspace, table.genes, 6, deleted)
    t = {name: i for i, name in enumerate(onto.terms)}
    ours = {(p, c) for p, c in edges if p in t and c in t}
    assert len(ours) >= 6                                       # most of DCell's wiring survives
    for p, c in ours:
        assert t[c] in onto.children[t[p]], (p, c)
    assert t["GO:0033698"] in onto.children[t["GO:0070822"]]    # Rpd3L under Sin3-type only
    assert t["GO:0033698"] not in onto.children[t["GO:0070210"]]
    assert len(deleted) < table.n_genes and min(onto.size) >= 6
