"""Reading trained models: the sequence encoder's filters as motifs (beside the demo's planted
ones), per-base attribution of a gene's windows, the encoder's vectors exported as an
embedding, and which GO subsystems move when DCell sees a genotype.

The modules below are private; this is the surface pages, the CLI and benchmarks use. Every
function here needs torch, which loads on first use (``import cre_core.interpret`` does not).
"""

from typing import TYPE_CHECKING

from cre_core.lazy import lazy_attributes

if TYPE_CHECKING:
    from cre_core.interpret.attribution import attribute, explain, explain_frame
    from cre_core.interpret.export import export_encoder
    from cre_core.interpret.motifs import motif_report
    from cre_core.interpret.subsystems import SCORES, Explanation, dcell_runs, explain_genotype, subtree

__getattr__ = lazy_attributes(__name__, {
    "attribute": "attribution", "explain": "attribution", "explain_frame": "attribution",
    "export_encoder": "export", "motif_report": "motifs", "SCORES": "subsystems", "Explanation": "subsystems",
    "dcell_runs": "subsystems", "explain_genotype": "subsystems", "subtree": "subsystems",
})

__all__ = [
    "SCORES", "Explanation", "attribute", "dcell_runs", "explain", "explain_frame", "explain_genotype",
    "export_encoder", "motif_report", "subtree",
]
