"""WANN at scale: Weight Agnostic Neural Network search, distributed with MPI.

Gaier & Ha, "Weight Agnostic Neural Networks", NeurIPS 2019.
"""

__version__ = "0.2.0"
