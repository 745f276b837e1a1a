"""Benchmarks: ``python -m src.bench [section ...]`` (``make bench`` runs them all).

Each section is a module here with ``run(quick: bool) -> None`` that prints its figures,
with the reference code's figures (SPEC section 6) beside ours and the ratio. Speed targets
live here, never in timed tests.
"""

SECTIONS = ("swingup", "tasks", "mpi", "checkpoint")
