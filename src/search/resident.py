"""The resident loop (``resident = true``): each rank keeps only the genomes it evaluated.

In the replicated loop (:mod:`src.parallel.replicated`) every rank runs the whole search
loop on the whole population: it ranks, breeds the tournament winners' children in name,
takes every member's key, decodes every result, rebuilds every child bred elsewhere. That is
about 9 us of Python a genome on every rank, 9-15 ms a generation at MNIST's pop 960, while
each of 64 ranks evaluates its 15 genomes in 8-30 ms (docs/mpi.md). Here a rank holds:

* the population as arrays, the same on every rank: each member's objectives, key,
  connections, measured seconds a rollout, and which rank holds its genome (``owner``);
* the genomes of the members it holds, and nothing of the others.

A generation, on every rank alike (the search's RNG is replicated, all arrays are too):
rank the objectives and draw the tournaments (:func:`src.core.ranking.rank_population`,
compiled); split the next generation's distinct genomes among the ranks, each preferably to
the rank that holds its parent (:func:`src.core.rank_jit.split_near`, balanced on measured
costs); send the parents that are needed elsewhere, rank to rank (one all-to-all); breed and
evaluate this rank's share (:func:`src.evaluation.breed_child`, the pure function the
workers of ``breeding = 'workers'`` use); exchange returns, keys and connection counts (one
all-gather of a few arrays); the champion as :func:`src.search.loop._update_best` picks it
(its candidates sent to every rank, their re-scoring cut into slices over the ranks). Rank 0
also keeps the history and the champion's genome, calls the reporters, and decides alone
when to checkpoint and when to stop (one broadcast a generation); a checkpoint gathers the
population on rank 0. With ``starts > 1`` every rank keeps each generation's best mean
reward (the starts' scores); at the end of a start the best start's last generation stays
where it is held (the reserve; gathered into checkpoints like the population), and the next
start's fresh genomes are drawn alike on every rank and split by size.

So it is :func:`src.search.loop.run` with ``breeding = 'workers'``, the same run bit for
bit: the same draws in the same order, the same children, the same returns in the same
arrays (tested against the serial loop at 1 to 30 simulated ranks and at 2 to 7 MPI ranks;
checked at 32 and 64). Limits: ``start_pick`` not ``'tuned'`` (a start's PEPG probe is not
shared out) and ``duplicates = 'keep'``.

The loop is written as a generator: it yields each collective step as a request
(:data:`~src.parallel.resident.ALLGATHER`, ``ALLTOALL``, ``GATHER0``, ``BCAST0``, with
bytes) and gets the answer back, so one driver runs it on MPI
(:func:`src.parallel.resident.drive`) and another runs any number of ranks in one process,
for tests and the benchmark (:func:`src.parallel.resident.simulate`). Each rank encodes and
decodes its own messages, so the simulation charges each rank its own work.
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.genome import Genome
from ..evaluation import (
    CHAMPION_STREAM,
    EvalRequest,
    breed_child,
    evaluate,
    gather_returns,
    objectives,
    rollout_slices,
)
from ..parallel.resident import ALLGATHER, ALLTOALL, BCAST0, GATHER0
from .loop import (
    Reporter,
    SearchState,
    best_info,
    champion_candidates,
    ends_start,
    initial_population,
    rankable,
    ranking_of,
    reserve,
    select,
    start_scores,
    stats_row,
)

Step = Generator[tuple[str, Any], Any, Any]


def _score_row(best_mean: float, best_max: float) -> dict[str, float]:
    """A non-lead rank's history row: what :func:`src.search.loop.start_scores` reads."""
    return {"best_mean": float(best_mean), "best_max": float(best_max)}


def unsupported(config: Any) -> str | None:
    """Why ``config`` cannot run in the resident loop, or ``None``."""
    if config.breeding != "workers":
        return "resident = true needs breeding = 'workers'"
    if config.start_pick == "tuned":
        return "resident = true needs start_pick = 'mean' or 'max' (a probe is not shared out)"
    if config.duplicates != "keep":
        return "resident = true needs duplicates = 'keep'"
    return None


def _dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _allgather(obj: Any) -> Step:
    parts = yield (ALLGATHER, _dumps(obj))
    return [pickle.loads(p) for p in parts]


def _bcast0(obj: Any) -> Step:
    return pickle.loads((yield (BCAST0, _dumps(obj))))


@dataclass
class RankTimes:
    """What one rank's loop reports for the benchmark, per generation: ``own``, the CPU
    seconds it spent breeding and evaluating its share (the rest of its CPU, measured by the
    driver, is the loop's own work), and ``imbalance``, the largest rank's share of the
    generation's split over the mean share, the split made on the cost guesses
    (connections + 8 a genome, which MNIST's costs follow; computed untimed: ``untimed``
    holds its CPU seconds, to take out)."""

    own: list[float] = field(default_factory=list)
    imbalance: list[float] = field(default_factory=list)
    untimed: list[float] = field(default_factory=list)
    _own: float = 0.0
    _untimed: float = 0.0


@dataclass
class _Population:
    """What every rank knows of a generation (the same arrays everywhere), and the genomes
    this rank holds."""

    keys: np.ndarray  # (n, 2) int64: each member's key (16 bytes, Genome.key) as two words
    conns: np.ndarray  # (n,) int64 enabled connections
    owner: np.ndarray  # (n,) int64 rank holding each member's genome
    rate: np.ndarray  # (n,) float64 seconds a rollout last evaluated, 0: unknown
    held: dict[int, Genome]


def _split_near(cost: np.ndarray, pref: np.ndarray, n_ranks: int, head: float = 0.0) -> np.ndarray:
    """:func:`src.core.rank_jit.split_near`, built ahead of time if it is."""
    from ..tasks.kernels import load

    return load().split_near(
        np.ascontiguousarray(cost, dtype=np.float64),
        np.ascontiguousarray(pref, dtype=np.int64),
        int(n_ranks),
        float(head),
    )


@dataclass
class _Costs:
    """What the split knows, the same on every rank: seconds per unit of cost guess
    (connections + 8 a rollout; 0 until measured) and how far behind rank 0 starts (its
    seconds of files and reporters last generation, which the others do not spend)."""

    per_unit: float = 0.0
    head: float = 0.0


def _words(keys: list[bytes]) -> np.ndarray:
    """Keys of 16 bytes as rows of two int64 words."""
    joined = b"".join(keys)
    if len(joined) != 16 * len(keys):
        raise ValueError("a genome key is not 16 bytes")
    return np.frombuffer(joined, dtype=np.int64).reshape(len(keys), 2)


_WORDS = ("node_id", "conn_src", "conn_dst", "conn_innov")  # int64
_BYTES = ("node_kind", "node_act", "conn_enabled")  # int8, int8, bool


def _encode_genome(member: int, g: Genome) -> bytes:
    """One genome as a record of bytes, 8-byte aligned: int64 words (its member, nodes and
    connections; its node ids, connection ends and innovation numbers), then its one-byte
    arrays (kinds, activations, enabled flags), padded. Records are sent back to back
    (:func:`_decode_genomes`); one is encoded once however many ranks it goes to."""
    nodes, conns = len(g.node_id), len(g.conn_src)
    head = np.array((member, nodes, conns), dtype=np.int64)
    pad = bytes(-(2 * nodes + conns) % 8)
    arrays = [getattr(g, name) for name in _WORDS + _BYTES]
    return b"".join([head, *(np.ascontiguousarray(a) for a in arrays), pad])


def _decode_genomes(blob: Any) -> dict[int, Genome]:
    """The genomes of records sent back to back (:func:`_encode_genome`), by member, as
    read-only arrays over ``blob`` (bytes or a uint8 array; its length a multiple of 8)."""
    out: dict[int, Genome] = {}
    if not len(blob):
        return out
    words = np.frombuffer(blob, dtype=np.int64)  # the whole blob, viewed twice
    octets = np.frombuffer(blob, dtype=np.uint8)
    words.flags.writeable = octets.flags.writeable = False
    at, end = 0, len(words)
    while at < end:
        member, nodes, conns = words[at : at + 3].tolist()
        w = at + 3  # the words: node ids, sources, destinations, innovation numbers
        c = w + nodes
        b = 8 * (c + 3 * conns)  # the bytes: kinds, activations, enabled flags
        g = object.__new__(Genome)
        g.__dict__.update(
            node_id=words[w:c],
            conn_src=words[c : c + conns],
            conn_dst=words[c + conns : c + 2 * conns],
            conn_innov=words[c + 2 * conns : c + 3 * conns],
            node_kind=octets[b : b + nodes].view(np.int8),
            node_act=octets[b + nodes : b + 2 * nodes].view(np.int8),
            conn_enabled=octets[b + 2 * nodes : b + 2 * nodes + conns].view(np.bool_),
        )
        out[member] = g
        at = c + 3 * conns + -(-(2 * nodes + conns) // 8)
    return out


def _first_copies(keys: np.ndarray) -> np.ndarray:
    """For each row of ``keys`` (int64 pairs) the index of the first row equal to it."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((keys[:, 1], keys[:, 0]))  # stable: each run's first row first
    rows = keys[order]
    new = np.ones(n, dtype=bool)
    new[1:] = (rows[1:, 0] != rows[:-1, 0]) | (rows[1:, 1] != rows[:-1, 1])
    first = np.empty(n, dtype=np.int64)
    first[order] = order[new][np.cumsum(new) - 1]
    return first


def _initial(pop: list[Genome], rank: int, n_ranks: int) -> _Population:
    """A population (whole on every rank) split among the ranks by size."""
    conns = np.array([g.n_connections for g in pop], dtype=np.int64)
    keys = _words([g.key() for g in pop])
    cost = (8.0 + conns).astype(np.float64)
    owner = _split_near(cost, np.zeros(len(pop), dtype=np.int64), n_ranks)
    held = {i: g for i, g in enumerate(pop) if owner[i] == rank}
    return _Population(keys, conns, owner, np.zeros(len(pop)), held)


def run(
    state: SearchState,
    rank: int,
    n_ranks: int,
    reporters: Sequence[Reporter] = (),
    due: Callable[[SearchState], bool] | None = None,
    save: Callable[[SearchState], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    times: RankTimes | None = None,
) -> Step:
    """One rank's resident loop (a generator of collective requests, see the module).

    ``state``: the run's state, whole, on every rank (fresh or resumed). Rank 0 alone calls
    ``reporters``, ``due(state)`` (whether to checkpoint after this generation), ``save``
    (with the population gathered) and ``should_stop`` after each generation. Returns the
    final state on rank 0 (its population gathered), ``None`` on the others.
    """
    config = state.config
    reason = unsupported(config)
    if reason:
        raise ValueError(reason)
    lead = rank == 0
    population = _initial(state.population, rank, n_ranks)
    # starts > 1: the best start's last generation so far, held as a population is
    best_start = None if state.reserve is None else _initial(state.reserve, rank, n_ranks)
    state.population, state.reserve = [], None
    if not lead:  # the starts' scores only (loop.start_scores reads best_mean or best_max)
        state.history = [_score_row(row["best_mean"], row["best_max"]) for row in state.history]
        state.best = None
    memo: dict[bytes, tuple[float, int]] = {}
    costs = _Costs()
    cpu = time.process_time

    def own(t0: float) -> None:
        if times is not None:
            times._own += cpu() - t0

    while True:
        if state.objectives is not None:
            if state.generation + 1 >= config.generations:  # a finished run resumed
                state.population = yield from _gather(population, rank)
                state.reserve = yield from _gather_reserve(best_start, rank)
                break
            if ends_start(state):  # loop.next_generation at the end of a start
                *before, last = start_scores(state.history, config)
                if not before or last > max(before):
                    best_start = population
                if state.generation + 1 < config.starts * config.start_generations:
                    fresh = initial_population(config, state.rng)  # the same draws everywhere
                    population = _initial(fresh, rank, n_ranks)
                else:  # the search goes on from the best start's last genomes
                    population = best_start if best_start is not None else population
                    best_start = None
                n = len(population.conns)
                src, child, base = np.arange(n), np.zeros(n, dtype=bool), (0, 0)
            else:
                src, child, base = _plan(state)
            state.generation += 1
            state.objectives = None
        else:
            n = len(population.conns)
            src, child, base = np.arange(n), np.zeros(n, dtype=bool), (0, 0)
        start = time.perf_counter()
        population, objs, distinct, steps, busy = yield from _evaluate(
            state, population, src, child, base, rank, n_ranks, costs, own, times
        )
        state.objectives = objs
        steps += yield from _champion(state, population, memo, rank, n_ranks, own)
        if lead:
            files = time.perf_counter()
            row = stats_row(state.generation, objs, distinct, steps, files - start, busy, n_ranks)
            state.history.append(row)
            for reporter in reporters:
                reporter.generation(state, row)
            stop = bool(should_stop())
            saving = bool(due(state)) if due is not None else False
            flags = (saving, stop, time.perf_counter() - files)
        else:
            if config.starts > 1:
                state.history.append(_score_row(objs[:, 0].max(), objs[:, 1].max()))
            flags = None
        last = state.generation + 1 >= config.generations
        saving, stop, costs.head = yield from _bcast0(flags)
        if saving or stop or last:
            state.population = yield from _gather(population, rank)
            state.reserve = yield from _gather_reserve(best_start, rank)
            if lead and saving and save is not None:
                save(state)
        if times is not None:
            times.own.append(times._own)
            times.untimed.append(times._untimed)
            times._own = times._untimed = 0.0
        if stop or last:
            break
        state.population, state.reserve = [], None
    return state if lead else None


def _plan(state: SearchState) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The next generation as :func:`src.search.loop.breed` makes it (the same draws of
    ``state.rng``, the same counters): each slot's source member of this generation, which
    slots are children, and the generation's base of node ids and innovation numbers."""
    config, objs = state.config, state.objectives
    assert objs is not None
    order, winners, n_elite = select(
        config, objs, [], state.rng, ranking_of(config, state.generation)
    )
    base = reserve(state.innovations, config.pop_size)
    n = config.pop_size
    src = np.concatenate([order[:n_elite], winners]).astype(np.int64)
    child = np.arange(n) >= n_elite
    return src, child, base


def _evaluate(
    state: SearchState,
    before: _Population,
    src: np.ndarray,
    child: np.ndarray,
    base: tuple[int, int],
    rank: int,
    n_ranks: int,
    costs: _Costs,
    own: Callable[[float], None],
    times: RankTimes | None = None,
) -> Step:
    """Evaluate the generation whose slot ``i`` is member ``src[i]`` of ``before`` (a child
    of it where ``child[i]``): (its population, objectives, distinct, env steps, busy s)."""
    config = state.config
    n = len(src)
    n_rollouts = len(config.weights) * config.n_reps
    # copies of one network among the slots that are not children are evaluated once
    copy_of = np.arange(n)
    kept = np.flatnonzero(~child)
    copy_of[kept] = kept[_first_copies(before.keys[src[kept]])]
    units = np.flatnonzero(copy_of == np.arange(n))  # slot order, as the serial loop
    parents = src[units]
    rate = before.rate[parents]
    if costs.per_unit > 0:  # in seconds: rank 0 starts behind by its files' time
        rate = np.where(rate > 0, rate, (8.0 + before.conns[parents]) * costs.per_unit)
        cost = rate * n_rollouts
        head = min(costs.head, math.fsum(cost.tolist()) / n_ranks)
    else:
        cost, head = (8.0 + before.conns[parents]) * n_rollouts, 0.0
    holder = before.owner[parents]
    assigned = _split_near(cost, holder, n_ranks, head)
    if times is not None:  # the benchmark's: the same split on the guesses
        t0 = time.process_time()
        guess = (8.0 + before.conns[parents]) * n_rollouts
        loads = np.bincount(_split_near(guess, holder, n_ranks), guess, minlength=n_ranks)
        times.imbalance.append(float(loads.max() / loads.mean()))
        times._untimed += time.process_time() - t0
    # parents needed where they are not held: each sent once to each rank that needs it
    need = np.flatnonzero((holder != assigned) & (holder == rank))
    outgoing: list[list[np.ndarray]] = [[] for _ in range(n_ranks)]
    records: dict[int, np.ndarray] = {}
    for pair in np.unique(parents[need] * n_ranks + assigned[need]).tolist():
        member, to = divmod(pair, n_ranks)
        if member not in records:
            records[member] = _encode_genome(member, before.held[member])
        outgoing[to].append(records[member])
    answer = yield (ALLTOALL, [b"".join(part) for part in outgoing])
    available = dict(before.held)
    for blob in answer:
        if len(blob):
            available.update(_decode_genomes(blob))
    # this rank's share: breed the children, evaluate everything
    mine = np.flatnonzero(assigned == rank)
    t0 = time.process_time()
    genomes, seconds = [], np.zeros(len(mine))
    for j, u in enumerate(mine.tolist()):
        slot = int(units[u])
        parent = available[int(parents[u])]
        if child[slot]:
            t = time.perf_counter()
            genomes.append(breed_child(config, state.generation, slot, parent, base))
            seconds[j] = time.perf_counter() - t
        else:
            genomes.append(parent)
    if genomes:
        result = evaluate(EvalRequest.of(config, state.generation, genomes))
        returns, steps = result.returns, result.env_steps
        seconds += result.genome_seconds
    else:
        returns, steps = np.empty((0, len(config.weights), config.n_reps)), 0
    made_keys = _words([g.key() for g in genomes])  # a child's, as the workers' breeding
    own(t0)
    # what every rank needs of this share, as 8-byte words: count, steps, units,
    # connections, keys (two words each); then returns and seconds as floats
    made = np.concatenate(
        [
            np.array([len(mine), steps], dtype=np.int64),
            mine.astype(np.int64),
            np.array([g.n_connections for g in genomes], dtype=np.int64),
            made_keys.ravel(),
        ]
    )
    floats = np.concatenate([returns.ravel(), seconds])
    parts = yield (ALLGATHER, made.tobytes() + floats.tobytes())
    # every rank: the units' returns in slot order, each member's key, size, cost, holder
    m = len(config.weights) * config.n_reps
    unit_returns = np.empty((len(units), len(config.weights), config.n_reps))
    unit_keys = np.empty((len(units), 2), dtype=np.int64)
    unit_conns = np.empty(len(units), dtype=np.int64)
    unit_seconds = np.empty(len(units))
    words = np.frombuffer(b"".join(parts), dtype=np.int64)
    reals = words.view(np.float64)
    first = np.cumsum([0] + [len(p) // 8 for p in parts[:-1]])  # each part's first word
    k = words[first]
    total_steps = int(words[first + 1].sum())
    # word positions of every unit's fields, all parts at once
    part = np.repeat(np.arange(len(first)), k)
    nth = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
    base = first[part]
    kk = k[part]
    got = words[base + 2 + nth]
    unit_conns[got] = words[base + 2 + kk + nth]
    at_key = base + 2 + 2 * kk + 2 * nth
    unit_keys[got, 0], unit_keys[got, 1] = words[at_key], words[at_key + 1]
    at_ret = base + 2 + 4 * kk + m * nth
    unit_returns[got] = reals[at_ret[:, None] + np.arange(m)].reshape(
        -1, len(config.weights), config.n_reps
    )
    unit_seconds[got] = reals[base + 2 + 4 * kk + m * kk + nth]
    row_of_slot = np.empty(n, dtype=np.int64)
    row_of_slot[units] = np.arange(len(units))
    rows = row_of_slot[copy_of]
    conns = unit_conns[rows]
    objs = objectives(unit_returns, unit_conns)[rows]  # row by row: as of the slots
    # exactly rounded (math.fsum; the guesses are integers): the same on every rank
    spent = math.fsum(unit_seconds.tolist())
    if spent > 0:
        costs.per_unit = spent / float(int((8 + unit_conns).sum()) * n_rollouts)
    unit_rate = unit_seconds / n_rollouts
    # a unit's genome stays where it was evaluated; a copy is its own member's genome (the
    # same network, its own genes: disabled ones, innovation numbers), held where that was
    copies = np.flatnonzero(copy_of != np.arange(n))
    owner = assigned[rows]
    owner[copies] = before.owner[src[copies]]
    held = {}
    for j, u in enumerate(mine.tolist()):
        held[int(units[u])] = genomes[j]
    for i in copies[owner[copies] == rank].tolist():
        held[i] = before.held[int(src[i])]
    after = _Population(unit_keys[rows], conns, owner, unit_rate[rows], held)
    return after, objs, len(units), total_steps, spent


def _champion(
    state: SearchState,
    population: _Population,
    memo: dict[bytes, tuple[float, int]],
    rank: int,
    n_ranks: int,
    own: Callable[[float], None],
) -> Step:
    """:func:`src.search.loop._update_best` on the resident population; returns env steps.
    The candidates to re-score are sent to every rank and their rollouts cut into slices
    over the ranks; the champion's genome goes to rank 0 when it changes."""
    config, objs = state.config, state.objectives
    assert objs is not None
    means = rankable(objs)[:, 0]
    info = state.best_info
    if config.champion_reps == 0:
        i = int(np.argmax(means))
        if not info or objs[i, 0] > info["mean_reward"]:
            yield from _set_best(state, population, i, float(objs[i, 0]), rank, None)
        return 0
    picked, keys = champion_candidates(
        means, lambda i: population.keys[i].tobytes(), config.champion_candidates
    )
    todo = [j for j, k in enumerate(keys) if k not in memo]
    sent: dict[int, Genome] = {}
    if todo:
        mine = [
            (picked[j], population.held[picked[j]]) for j in todo if picked[j] in population.held
        ]
        for part in (yield from _allgather(mine)):
            sent.update(part)
        cfg = config.replace(n_reps=config.champion_reps)
        n = len(cfg.weights) * cfg.n_reps
        slices = rollout_slices(n, max(1, math.ceil(n_ranks / len(todo))))
        jobs = [(j, part) for j in todo for part in slices]
        t0 = time.process_time()
        done = [
            (k, evaluate(EvalRequest.of(cfg, 0, [sent[picked[j]]], CHAMPION_STREAM, part)))
            for k, (j, part) in enumerate(jobs)
            if k % n_ranks == rank
        ]
        own(t0)
        results: list[Any] = [None] * len(jobs)
        for part in (yield from _allgather(done)):
            for k, result in part:
                results[k] = result
        returns = gather_returns(results, len(cfg.weights), cfg.n_reps)
        for k, j in enumerate(todo):
            score = float(objectives(returns[k : k + 1], np.zeros(1))[0, 0])
            chunk = results[k * len(slices) : (k + 1) * len(slices)]
            memo[keys[j]] = (
                score if np.isfinite(score) else -np.inf,
                sum(r.env_steps for r in chunk),
            )
    for k in list(memo):  # a few: each looked for among the members' keys
        if not (population.keys == np.frombuffer(k, dtype=np.int64)).all(axis=1).any():
            del memo[k]
    scores = [memo[k][0] for k in keys]
    j = int(np.argmax(scores))
    best_score = info.get("champion_score", -np.inf) if info else None
    if best_score is None or scores[j] > best_score:
        yield from _set_best(state, population, picked[j], scores[j], rank, sent)
    return sum(memo[k][1] for k in keys)


def _set_best(
    state: SearchState,
    population: _Population,
    i: int,
    score: float,
    rank: int,
    sent: dict[int, Genome] | None,
) -> Step:
    """:func:`src.search.loop._set_best`: every rank the champion's figures, rank 0 its
    genome (from the rank that holds it, unless rank 0 has it already)."""
    state.best_info = best_info(state, i, score)
    if sent is not None and i in sent:
        genome: Genome | None = sent[i]
    elif population.owner[i] == 0:
        genome = population.held.get(i)
    else:
        ours = population.held.get(i) if population.owner[i] == rank else None
        got = yield (GATHER0, _dumps(ours))
        genome = pickle.loads(got[int(population.owner[i])]) if got is not None else None
    if rank == 0:
        state.best = genome


def _gather_reserve(best_start: _Population | None, rank: int) -> Step:
    """:func:`_gather` of the starts' reserve (``state.reserve``); ``None`` where there is
    none (every rank knows alike) or off rank 0."""
    if best_start is None:
        return None
    whole = yield from _gather(best_start, rank)
    return whole if rank == 0 else None


def _gather(population: _Population, rank: int) -> Step:
    """The whole population on rank 0 (each rank sends the members it holds); ``[]``
    elsewhere."""
    ours = [(i, g) for i, g in population.held.items() if population.owner[i] == rank]
    got = yield (GATHER0, b"".join([_encode_genome(i, g) for i, g in ours]))
    if got is None:
        return []
    whole: dict[int, Genome] = {}
    for blob in got:
        whole.update(_decode_genomes(blob))
    return [whole[i] for i in range(len(population.conns))]
