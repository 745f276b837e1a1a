"""The activation registry: every row is consistent, and a new row reaches every table.

These tests iterate :data:`activations.ROWS` instead of listing activations, so a row added
there is checked without editing them. The swing-up lane kernel is checked per row in
tests/tasks/test_swingup_lanes.py (also parametrised over the registry).
"""

from __future__ import annotations

import math

import matplotlib.image
import numba
import numpy as np
import pytest

from src.config import ConfigError, WannConfig, validate
from src.core import activations
from src.core.activations import Activation
from src.core.genome import Genome
from src.report import netdraw
from src.report.episodes import Net

XS = np.concatenate([np.linspace(-4.0, 4.0, 161), [0.0, -0.0, 1e-300, -1e150]])
#: Values plain-Python ``math`` refuses (``math.sin(inf)`` raises) but the kernels meet.
SPECIAL = np.array([np.inf, -np.inf, np.nan])

#: A throwaway activation (softsign), registered only inside the tests that use it.
SOFTSIGN = Activation(
    101,
    "softsign_test",
    lambda x: x / (1.0 + np.abs(x)),
    lambda x: x / (1.0 + abs(x)),
    "#123456",
    "ssgn",
)


def test_rows_have_unique_ids_names_and_colours():
    rows = activations.ROWS
    assert len({r.id for r in rows}) == len({r.name for r in rows}) == len(rows)
    assert len({r.colour for r in rows}) == len(rows), "pictures could not tell two apart"
    assert all(0 < r.id < 128 and r.label for r in rows)
    assert {r.id: r.name for r in rows} == activations.NAMES
    assert {r.name: r.id for r in rows} == activations.IDS


@pytest.mark.parametrize("row", activations.ROWS, ids=lambda r: r.name)
def test_array_scalar_and_compiled_scalar_agree(row):
    """Array form ~ scalar form (numpy's SIMD tanh may differ in the last bit from libm);
    the compiled dispatcher equals the plain-Python one bit for bit, and the array form on
    infinities and NaN (a diverging network's values)."""
    array = activations.apply(row.id, XS)
    scalar = np.array([activations.apply_scalar(row.id, float(x)) for x in XS])
    np.testing.assert_allclose(scalar, array, rtol=1e-15, atol=1e-15)
    compiled = numba.njit(activations.numba_scalar())
    jitted = np.array([compiled(row.id, float(x)) for x in XS])
    assert jitted.tobytes() == scalar.tobytes()
    with np.errstate(invalid="ignore"):
        special = activations.apply(row.id, SPECIAL)
    np.testing.assert_array_equal([compiled(row.id, float(x)) for x in SPECIAL], special)


def test_unknown_ids_and_names_are_refused():
    assert math.isnan(activations.apply_scalar(max(activations.NAMES) + 1, 0.5))
    with pytest.raises(ValueError, match="unknown activation id"):
        activations.apply(max(activations.NAMES) + 1, XS)
    with pytest.raises(ValueError, match="accepted: linear"):
        activations.ids_from_names(["swish"])


def test_a_taken_id_or_name_is_refused():
    clash = Activation(activations.LINEAR, "other", np.abs, lambda x: abs(x), "#000000", "o")
    with pytest.raises(ValueError, match="taken"), activations.registered(clash):
        pass
    with pytest.raises(TypeError, match="Python function"):
        activations.scalar_dispatch((Activation(120, "t", np.tanh, math.tanh, "#0", "t"),))


def _one_hidden_node_genome(act_name: str) -> Genome:
    """in -> h (act_name) -> out, plus bias -> out."""
    return Genome.from_dict(
        {
            "nodes": [
                {"id": 0, "kind": "bias", "activation": "linear"},
                {"id": 1, "kind": "input", "activation": "linear"},
                {"id": 2, "kind": "output", "activation": "linear"},
                {"id": 3, "kind": "hidden", "activation": act_name},
            ],
            "connections": [
                {"source": 1, "destination": 3, "enabled": True, "innovation": 0},
                {"source": 3, "destination": 2, "enabled": True, "innovation": 1},
                {"source": 0, "destination": 2, "enabled": True, "innovation": 2},
            ],
        }
    )


def test_a_new_row_reaches_every_table(tmp_path):
    """Register a throwaway row in-process and use it everywhere it is looked up per call.

    What this covers: names and ids, :func:`apply`, config validation, genome JSON and
    validation, the network pictures (its colour is drawn), and the generator of the
    compiled dispatcher (:func:`scalar_dispatch` over the rows plus the new one, compiled
    with numba, agrees with the array form). What it does not: the module's
    :func:`apply_scalar` and the task kernels are built from ``ROWS`` at import and never see
    a row registered at run time (asserted below); a row added to ``ROWS`` in the file reaches
    them, and tests/tasks/test_swingup_lanes.py then runs it through the lane kernel.
    """
    assert SOFTSIGN.name not in activations.IDS
    with activations.registered(SOFTSIGN):
        act = activations.ids_from_names([SOFTSIGN.name])[0]
        assert act == SOFTSIGN.id and activations.NAMES[act] == SOFTSIGN.name
        np.testing.assert_array_equal(activations.apply(act, XS), SOFTSIGN.array(XS))
        validate(WannConfig(task="swingup", activations=(SOFTSIGN.name,)))

        rows = (*activations.ROWS, SOFTSIGN)
        dispatch = numba.njit(activations.numba_scalar(rows))
        for row in rows:
            jitted = np.array([dispatch(row.id, float(x)) for x in XS])
            np.testing.assert_allclose(jitted, activations.apply(row.id, XS), atol=1e-15)

        genome = _one_hidden_node_genome(SOFTSIGN.name)
        assert Genome.from_dict(genome.to_dict()).key() == genome.key()
        assert genome.to_dict()["nodes"][3]["activation"] == SOFTSIGN.name

        png = netdraw.draw(Net.of(genome), tmp_path / "net", formats=("png",))["png"]
        rgb = matplotlib.image.imread(png)[..., :3]
        want = np.array([int(SOFTSIGN.colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
        assert np.all(np.abs(rgb - want) < 1.5 / 255, axis=-1).sum() > 50, "no node in its colour"

        # Built at import from ROWS: the run-time row does not reach them.
        assert math.isnan(activations.apply_scalar(act, 0.5))
        assert act not in activations.CONTROL_POOL
    assert SOFTSIGN.name not in activations.IDS and SOFTSIGN.id not in activations.BY_ID
    with pytest.raises(ConfigError, match="unknown activation"):
        validate(WannConfig(task="swingup", activations=(SOFTSIGN.name,)))


@pytest.mark.parametrize("row", activations.ROWS, ids=lambda r: r.name)
def test_every_row_is_drawn_in_its_colour(row, tmp_path):
    png = netdraw.draw(Net.of(_one_hidden_node_genome(row.name)), tmp_path / "n", formats=("png",))[
        "png"
    ]
    rgb = matplotlib.image.imread(png)[..., :3]
    want = np.array([int(row.colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    assert np.all(np.abs(rgb - want) < 1.5 / 255, axis=-1).sum() > 50
