"""CRE Fitness Lab core: parsing, DuckDB store, embedders, models, training and queries.

Everything that is not UI lives here and is usable from ``python -m cre_core``.
"""

__version__ = "0.1.0"
