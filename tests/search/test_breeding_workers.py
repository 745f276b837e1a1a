"""``breeding = "workers"``: each child is bred by the rank that evaluates it, from its own
RNG and reserved ids, so a child depends on (seed, generation, index) and its parent only,
and a run is the same serially, in a pool and after a resume. (MPI: tests/mpi/test_mpi.py.)
"""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest
from conftest import grown_genome

from src.config import ConfigError, build
from src.core import activations
from src.core.genome import (
    Genome,
    Innovations,
    PendingChild,
    apply_edit,
    edit_of,
    initial_genome,
)
from src.core.variation import OPERATORS, mutate
from src.evaluation import EvalRequest, breed_child, child_innovations, child_rng, evaluate
from src.parallel import PoolExecutor, SerialExecutor
from src.search import checkpoint
from src.search.loop import Offspring, breed, initial_state, next_population, run, snapshot

SWINGUP = ("swingup", {"pop_size": 24, "seed": 7}, ["episode_steps=150", "champion_reps=2"])
MNIST = ("mnist256", {"pop_size": 16, "seed": 2}, ["batch_size=100"])
#: every genome's rollouts cut into 5 work items: each item breeds the same child
SPLIT = ("swingup", {"pop_size": 12, "seed": 3}, ["episode_steps=100", "split_rollouts=5"])


def config_of(case, generations: int, breeding: str = "workers"):
    task, overrides, sets = case
    return build(
        task, None, {**overrides, "generations": generations}, [*sets, f"breeding='{breeding}'"]
    )


def made_up_objectives(state, seed: int = 0) -> None:
    scores = np.random.default_rng(seed)
    conns = np.array([g.n_connections for g in state.population], dtype=np.float64)
    mean = scores.normal(size=len(conns)) - 0.01 * conns
    state.objectives = np.stack([mean, mean + np.abs(scores.normal(size=len(conns))), conns], 1)


def test_breeding_key_is_checked_and_root_is_the_default():
    assert build("swingup").breeding == "root"
    with pytest.raises(ConfigError, match="breeding must be one of root, workers"):
        build("swingup", sets=["breeding='everywhere'"])


@pytest.mark.parametrize("op", [*OPERATORS, "clone"])
def test_an_edit_rebuilds_the_child_of_every_operator(op):
    parent = grown_genome(5, 2, 12, seed=3)
    probs = [1.0 if name == op else 0.0 for name in OPERATORS]
    rng, inn = np.random.default_rng(1), Innovations(100, 500)
    if op == "clone":
        child = parent
    else:
        child, done = mutate(parent, rng, inn, probs, activations.CONTROL_POOL)
        assert done == op
    edit = edit_of(parent, child)
    assert len(edit) < 20
    back = apply_edit(parent, edit, child.key())
    assert back == child and back.key() == child.key()
    assert all(not getattr(back, f).flags.writeable for f in back.__dataclass_fields__)
    back.validate()
    again = apply_edit(parent, edit)  # the key recomputed here is the worker's
    assert again.key() == child.key()


def test_an_edit_refuses_a_genome_that_is_not_a_child():
    a, b = grown_genome(5, 2, 12, seed=3), grown_genome(5, 2, 12, seed=4)
    with pytest.raises(ValueError, match="not its parent"):
        edit_of(a, b)


def test_a_child_depends_only_on_seed_generation_index_and_parent():
    config = config_of(SWINGUP, 10)
    parent = grown_genome(5, 1, 20, seed=5)
    base = (1000, 5000)
    forward = [breed_child(config, 4, i, parent, base) for i in range(40)]
    backward = [breed_child(config, 4, i, parent, base) for i in reversed(range(40))][::-1]
    assert forward == backward
    assert len({g.key() for g in forward}) > 10  # the children differ from each other
    # the same index in another generation, or under another seed, is another draw
    assert child_rng(7, 4, 3).random() == child_rng(7, 4, 3).random()
    assert child_rng(7, 4, 3).random() != child_rng(7, 5, 3).random()
    assert child_rng(7, 4, 3).random() != child_rng(8, 4, 3).random()
    assert child_rng(7, 4, 3).random() != child_rng(7, 4, 4).random()
    # each child's new ids lie in its own reserved block: disjoint across children
    new_nodes, new_innov = set(), set()
    for i, child in enumerate(forward):
        block = child_innovations(base, i)
        nodes = set(child.node_id.tolist()) - set(parent.node_id.tolist())
        innov = set(child.conn_innov.tolist()) - set(parent.conn_innov.tolist())
        assert nodes <= {block.next_node_id}
        assert innov <= {block.next_innovation, block.next_innovation + 1}
        assert not nodes & new_nodes and not innov & new_innov
        new_nodes |= nodes
        new_innov |= innov
        child.validate()


def test_breed_reserves_ids_and_moves_the_counters_by_whole_blocks():
    config = config_of(MNIST, 10)
    state = initial_state(config)
    made_up_objectives(state)
    before = (state.innovations.next_node_id, state.innovations.next_innovation)
    bred = list(breed(state))
    n_elite = int(config.elite_ratio * config.pop_size)
    assert all(isinstance(g, Genome) for g in bred[:n_elite])
    kids = bred[n_elite:]
    assert all(isinstance(o, Offspring) for o in kids)
    assert [o.index for o in kids] == list(range(n_elite, config.pop_size))
    assert {o.base for o in kids} == {before} and {o.generation for o in kids} == {1}
    after = (state.innovations.next_node_id, state.innovations.next_innovation)
    assert after == (before[0] + config.pop_size, before[1] + 2 * config.pop_size)


def test_a_worker_breeds_the_child_the_root_would_and_sends_back_an_edit():
    config = config_of(SWINGUP, 10)
    state = initial_state(config)
    made_up_objectives(state)
    offspring = [o for o in breed(state) if isinstance(o, Offspring)][:3]
    parents = [o.parent for o in offspring]
    request = EvalRequest.of(
        config,
        1,
        parents,
        children=tuple(o.index for o in offspring),
        innovations=offspring[0].base,
    )
    result = evaluate(request)
    kids = [o.make(config) for o in offspring]
    plain = EvalRequest.of(config, 1, kids)
    # parents to breed from go whole; genomes only to evaluate, as their enabled connections
    assert len(request.genomes["conns"]) == sum(len(p.conn_src) for p in parents)
    assert len(plain.genomes["conns"]) == sum(k.n_connections for k in kids)
    assert sum(k.n_connections for k in kids) < sum(len(k.conn_src) for k in kids)
    alone = evaluate(plain)
    assert result.returns.tobytes() == alone.returns.tobytes()
    for o, (edit, key, connections) in zip(offspring, result.children):
        assert apply_edit(o.parent, edit, key) == o.make(config)
        assert key == o.make(config).key()
        assert connections == o.make(config).n_connections
        pending = PendingChild(o.parent, edit, key, connections)
        assert not pending.built  # its key and size are known without building it
        assert pending.key() == key and pending.n_connections == connections
        assert pending == o.make(config) and pending.built
        again = pickle.loads(pickle.dumps(PendingChild(o.parent, edit, key, connections)))
        assert type(again) is Genome and again == o.make(config)


def test_workers_breeding_is_another_search_than_root_breeding():
    pops = {}
    for mode in ("root", "workers"):
        state = initial_state(config_of(SWINGUP, 10, mode))
        made_up_objectives(state)
        pops[mode] = [g.key() for g in next_population(state)]
    n_elite = int(0.2 * 24)
    assert pops["root"][:n_elite] == pops["workers"][:n_elite]  # same ranking, same RNG
    assert pops["root"][n_elite:] != pops["workers"][n_elite:]


def assert_same_state(a, b) -> None:
    def rows(state):
        return [{k: v for k, v in r.items() if k not in ("seconds", "busy")} for r in state.history]

    assert a.generation == b.generation and rows(a) == rows(b)
    assert a.population == b.population
    assert [g.key() for g in a.population] == [g.key() for g in b.population]
    assert a.objectives.tobytes() == b.objectives.tobytes()
    assert a.best == b.best and a.best_info == b.best_info
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert a.innovations == b.innovations


@pytest.mark.parametrize("case", [SWINGUP, MNIST, SPLIT], ids=["swingup", "mnist256", "split"])
def test_workers_breeding_is_the_same_serially_in_a_pool_and_after_a_resume(case, tmp_path):
    config = config_of(case, 5)
    straight = run(initial_state(config), SerialExecutor())
    assert straight.history[-1]["generation"] == 4
    for g in straight.population:
        g.validate()
    with PoolExecutor(2) as pool:
        pooled = run(initial_state(config), pool)
    assert_same_state(straight, pooled)
    # stopped after generation 2, checkpointed, read back, resumed to generation 4
    first = run(initial_state(config.replace(generations=3)), SerialExecutor())
    path = checkpoint.save(snapshot(first), tmp_path, "run")
    resumed = checkpoint.load(path)
    resumed.config = config
    assert_same_state(straight, run(resumed, SerialExecutor()))


def test_a_long_chain_of_pending_children_builds_oldest_first():
    """A rank of a replicated loop keeps children it never evaluated as parent + edit; a
    chain of them longer than Python's recursion limit still builds, each link once."""
    rng = np.random.default_rng(0)
    innovations = Innovations.start(5, 1)
    real = [initial_genome(5, 1, 0.5, rng)]
    chain: Genome = real[0]
    for _ in range(2 * sys.getrecursionlimit()):
        child, _ = mutate(real[-1], rng, innovations, (0.25, 0.25, 0.25, 0.25), [1, 2, 3])
        chain = PendingChild(chain, edit_of(real[-1], child), child.key(), child.n_connections)
        real.append(child)
    middle = chain
    for _ in range(len(real) // 2):
        middle = middle.__dict__["_parent"]
    assert not middle.built
    assert chain == real[-1] and chain.built and middle.built  # its ancestors built on the way
