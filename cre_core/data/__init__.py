"""Ingest, the DuckDB store, gene lookup and the demo world."""
