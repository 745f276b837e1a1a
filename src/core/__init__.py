"""The WANN core: genomes, networks, activations, variation and ranking.

Pure numpy (and numba for the hot loops); nothing here imports any other part of ``src``.
"""
