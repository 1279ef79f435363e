"""CRE Fitness Lab core: parsing, DuckDB store, embedders, models, training and queries.

Everything that is not UI lives here and is usable from the ``cre`` command (``python -m
cre_core``). Progress and notes go to the ``cre_core`` logger; the command line shows them on
stderr, a notebook or another program decides for itself.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
