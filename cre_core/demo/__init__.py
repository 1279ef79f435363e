"""The demo world: a seeded, yeast-like genome and screens in the real file formats, with planted,
learnable signal (``generate``: what is planted), ingested by the real parsers (``build_demo``),
and the truth ceiling only such a world can give.

The modules below are private; this is the surface pages, the CLI and benchmarks use.
"""

from cre_core.demo.ceiling import load_gene_facts, truth_ceiling
from cre_core.demo.commands import build_demo
from cre_core.demo.generate import PRESETS, DemoFiles, demo_world, generate_demo_files
from cre_core.demo.world import GeneFacts, World, build_world, planted_motifs

__all__ = [
    "PRESETS", "DemoFiles", "GeneFacts", "World", "build_demo", "build_world", "demo_world",
    "generate_demo_files", "load_gene_facts", "planted_motifs", "truth_ceiling",
]
