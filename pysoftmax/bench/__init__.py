"""Benchmarks of pysoftmax against its peers: ``python -m pysoftmax bench``."""
