"""Reading a trained sequence encoder: its filters as motifs, and per-base attribution maps."""
