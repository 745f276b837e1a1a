"""PEPG (src/core/pepg.py) and its checkpointed loop (src/report/tuning.py)."""

import platform

import numpy as np
import pytest
from harness import output_on_blas_kernel

from src.core import pepg
from src.report import tuning

TARGET = np.linspace(-1.0, 1.0, 10)


def quadratic(generation, x):
    """Larger is better; the optimum 0 is at TARGET."""
    return -((x - TARGET) ** 2).sum(axis=1)


def run(generations, checkpoint=None, seed=0, config=None):
    return tuning.optimise(
        quadratic,
        np.zeros(len(TARGET)),
        config or pepg.PEPGConfig(popsize=16, sigma_init=0.5, learning_rate=0.1),
        generations,
        np.random.default_rng(seed),
        checkpoint=checkpoint,
        key="quadratic",
        log=lambda s: None,
    )


def test_pepg_improves_a_quadratic():
    start = quadratic(0, np.zeros((1, len(TARGET))))[0]
    result = run(150)
    end = quadratic(0, result.x[None])[0]
    assert start < -3.5
    assert end > -0.05, end
    assert result.history.shape == (150, len(tuning.HISTORY))
    # the spread adapts: smaller near the optimum
    assert result.state.sigma.mean() < 0.5


def test_pepg_is_deterministic_for_a_seed_and_differs_across_seeds():
    a, b, c = run(20, seed=3), run(20, seed=3), run(20, seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)


def test_ask_is_symmetric():
    config = pepg.PEPGConfig(popsize=6)
    state = pepg.init(np.arange(3.0), config)
    x = pepg.ask(state, config, np.random.default_rng(0))
    assert x.shape == (6, 3)
    np.testing.assert_allclose(x[:3] + x[3:], np.tile(2 * state.mu, (3, 1)))


def test_failed_rollouts_rank_last():
    ranks = pepg.centred_ranks(np.array([1.0, -np.inf, 3.0, 2.0]))
    np.testing.assert_allclose(ranks, [-1 / 6, -0.5, 0.5, 1 / 6])


def test_bad_popsize_is_refused():
    with pytest.raises(ValueError, match="even"):
        pepg.PEPGConfig(popsize=7)


def test_resume_equals_an_uninterrupted_run(tmp_path):
    path = tmp_path / "tune.npz"
    straight = run(12)
    first = run(5, checkpoint=path)
    assert first.resumed_from == 0 and path.is_file()
    resumed = run(12, checkpoint=path)
    assert resumed.resumed_from == 5
    np.testing.assert_array_equal(resumed.x, straight.x)
    np.testing.assert_array_equal(resumed.state.sigma, straight.state.sigma)
    np.testing.assert_array_equal(resumed.history[:, :5], straight.history[:, :5])
    # a finished checkpoint is reused without evaluating anything
    calls = []

    def counting(generation, x):
        calls.append(generation)
        return quadratic(generation, x)

    again = tuning.optimise(
        counting,
        np.zeros(len(TARGET)),
        pepg.PEPGConfig(popsize=16, sigma_init=0.5, learning_rate=0.1),
        12,
        np.random.default_rng(0),
        checkpoint=path,
        key="quadratic",
        log=lambda s: None,
    )
    assert calls == [] and again.resumed_from == 12
    np.testing.assert_array_equal(again.x, straight.x)
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporary file


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path):
    path = tmp_path / "tune.npz"
    run(5, checkpoint=path)
    lines = []
    other = tuning.optimise(
        quadratic,
        np.zeros(len(TARGET)),
        pepg.PEPGConfig(popsize=16, sigma_init=0.3, learning_rate=0.1),
        6,
        np.random.default_rng(0),
        checkpoint=path,
        key="quadratic",
        log=lines.append,
    )
    assert other.resumed_from == 0
    assert "starting afresh" in lines[0]
    # a corrupt file is ignored too
    path.write_bytes(b"not a zip file")
    assert run(3, checkpoint=path).resumed_from == 0


def test_nothing_to_tune_runs_quietly():
    """A champion with no enabled connection has no weight to tune: the loop still runs
    (its history's spread is 0), without numpy's warning about an empty mean."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = tuning.optimise(
            lambda generation, x: np.zeros(len(x)),
            np.zeros(0),
            pepg.PEPGConfig(popsize=4, sigma_init=0.5, learning_rate=0.1),
            3,
            np.random.default_rng(0),
            key="empty",
            log=lambda s: None,
        )
    assert result.x.shape == (0,)
    assert result.history.shape == (3, len(tuning.HISTORY))
    assert (result.history[:, tuning.HISTORY.index("sigma")] == 0).all()


# One PEPG run of 40 generations over 41 weights (the size of a swing-up champion), its
# result's bytes in hex.
_PEPG_RUN = """
import numpy as np
from src.core import pepg
target = np.linspace(-1.0, 1.0, 41)
config = pepg.PEPGConfig(popsize=64, sigma_init=0.1)
state, rng = pepg.init(np.zeros(41), config), np.random.default_rng(0)
for _ in range(40):
    x = pepg.ask(state, config, rng)
    state = pepg.tell(state, config, x, -np.sin(3 * (x - target)).sum(axis=1) - (x * x).sum(axis=1))
print(state.mu.tobytes().hex(), state.sigma.tobytes().hex())
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="OpenBLAS core types are x86's")
def test_pepg_is_the_same_whichever_blas_kernel_the_cpu_gets():
    """OpenBLAS picks its kernels by CPU at run time (OPENBLAS_CORETYPE forces one); a matrix-
    vector product in PEPG's update made the report's tuned weights differ from one machine
    to another (the same champion: 889 on one, 894 on another). The update sums in a fixed
    order, so two kernels that order a dot product differently give the same run."""
    runs = {core: output_on_blas_kernel(_PEPG_RUN, core) for core in ("Haswell", "Nehalem")}
    assert runs["Haswell"] and runs["Haswell"] == runs["Nehalem"]
