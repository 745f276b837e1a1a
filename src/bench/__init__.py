"""Benchmarks: ``python -m src.bench [section ...]`` (``make bench`` runs them all).

Each section is a module here with ``run(quick: bool) -> None`` that prints its figures,
with the figures of the authors' code beside ours and the ratio (WANNRelease,
https://github.com/google/brain-tokyo-workshop/tree/master/WANNRelease, as measured on this
kind of machine; each section names them). Speed targets
live here, never in timed tests.
"""

SECTIONS = ("swingup", "tasks", "mpi", "checkpoint", "scale")
