"""Every task keeps the Task contract (docs/tasks.md): each built-in task of the registry,
gym tasks, and the example task of your own (examples/my_task.py).

Shapes of what rollouts return, -inf for a network that outputs NaN, a return that depends
on (network, weight, seed) only (not on earlier calls, the task instance or the rollouts
beside it), a warm-up that leaves the task as it was, and the names the registry gives
the report. Episodes are cut short through the config so the whole file runs in seconds.
"""

import numpy as np
import pytest
from conftest import grown_genome

from src.config import build
from src.core import activations
from src.core.genome import initial_genome
from src.core.network import compile_genome
from src.tasks import Task, io_names, make_task, registry, resolved_activations

#: Task name -> ``--set`` items that keep its episodes short.
SHORT = {
    "swingup": ["episode_steps=60"],
    "biped": ["episode_steps=25"],
    "biped-hardcore": ["episode_steps=25"],
    "carracing": ["episode_steps=3"],
    "mnist256": ["batch_size=40"],
    "gym:CartPole-v1": ["episode_steps=40"],
    "gym:Pendulum-v1": ["episode_steps=20"],
    "examples.my_task:build": ["episode_steps=30"],
}
TASKS = [*registry.BUILTIN, "gym:CartPole-v1", "gym:Pendulum-v1", "examples.my_task:build"]
WEIGHTS = np.array([-2.0, -0.5, 1.0, 2.0])
SEEDS = np.array([5, 5, 9, 12])


def test_every_builtin_task_is_covered():
    assert set(registry.BUILTIN) <= set(SHORT) and set(SHORT) == set(TASKS)


@pytest.fixture(params=TASKS)
def case(request):
    config = build(request.param, sets=SHORT[request.param])
    task = make_task(config)
    genome = grown_genome(task.n_inputs, task.n_outputs, 10, seed=1, pool=task.default_pool)
    return config, task, compile_genome(genome)


def test_shapes(case):
    config, task, plan = case
    assert isinstance(task, Task) and task.name == config.task
    assert isinstance(task.n_inputs, int) and isinstance(task.n_outputs, int)
    assert (plan.n_inputs, len(plan.output_slots)) == (task.n_inputs, task.n_outputs)
    returns, steps = task.rollouts(plan, WEIGHTS, SEEDS)
    assert isinstance(returns, np.ndarray) and returns.dtype == np.float64
    assert returns.shape == (4,) and np.isfinite(returns).all()
    assert isinstance(steps, (int, np.integer)) and steps >= 4
    coef = np.random.default_rng(0).uniform(0.5, 1.5, plan.n_edges)
    with_coef, _ = task.rollouts(plan, WEIGHTS[:2], SEEDS[:2], coef)
    assert with_coef.shape == (2,) and np.isfinite(with_coef).all()


def test_nan_network_returns_minus_inf(case):
    config, task, _ = case
    # every input->output connection enabled: each output reads a NaN coefficient
    full = compile_genome(
        initial_genome(task.n_inputs, task.n_outputs, 1.0, np.random.default_rng(0))
    )
    returns, _ = task.rollouts(full, WEIGHTS, SEEDS, np.full(full.n_edges, np.nan))
    assert returns.tolist() == [-np.inf] * 4
    # a NaN weight fails its own rollout only
    mixed, _ = task.rollouts(full, np.array([1.0, np.nan, 0.5]), np.array([3, 3, 4]))
    alone, _ = task.rollouts(full, np.array([1.0, 0.5]), np.array([3, 4]))
    assert mixed[1] == -np.inf and mixed[[0, 2]].tolist() == alone.tolist()


def test_same_seed_same_return(case):
    config, task, plan = case
    first, steps = task.rollouts(plan, WEIGHTS, SEEDS)
    task.rollouts(plan, WEIGHTS[::-1].copy(), SEEDS + 100)  # other episodes in between
    again, steps_again = task.rollouts(plan, WEIGHTS, SEEDS)
    assert first.tolist() == again.tolist() and steps == steps_again
    fresh, _ = make_task.__wrapped__(config).rollouts(plan, WEIGHTS, SEEDS)  # a new instance
    assert fresh.tolist() == first.tolist()
    alone, _ = task.rollouts(plan, WEIGHTS[2:3], SEEDS[2:3])  # not beside the others
    assert alone[0] == first[2]
    other_seed, _ = task.rollouts(plan, WEIGHTS[2:3], SEEDS[2:3] + 1)
    assert other_seed[0] != first[2] or config.task == "mnist256"  # mnist: ties possible


def test_warmup_runs_and_leaves_the_task_as_it_was(case):
    _, task, plan = case
    before, steps = task.rollouts(plan, WEIGHTS, SEEDS)
    task.warmup()
    after, steps_after = task.rollouts(plan, WEIGHTS, SEEDS)
    assert before.tolist() == after.tolist() and steps == steps_after


def test_pool_and_names_agree_with_the_task(case):
    config, task, _ = case
    assert task.default_pool and set(task.default_pool) <= set(activations.NAMES)
    assert resolved_activations(config) == tuple(activations.NAMES[i] for i in task.default_pool)
    inputs, outputs = io_names(config)
    assert inputs is None or len(inputs) == task.n_inputs
    assert outputs is None or len(outputs) == task.n_outputs
