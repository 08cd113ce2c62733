"""Retrieval quality evaluation on BEIR-format data sets."""
