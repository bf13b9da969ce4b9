"""Mappings, the vectorized cost model and the mapping search."""
