"""The WANN search loop (Gaier & Ha 2019, section 3).

One generation::

    population --evaluate--> objectives --report/checkpoint--> rank --vary--> next population

* evaluate: each distinct genome once (identical networks under the same seeds give identical
  returns; elites and clones are served from that), in chunks through ``executor.map``.
* rank: NSGA-II fronts and crowding on (mean, 1/connections) or (mean, max) (``ranking =
  "paper"``), or on all three objectives (``"nsga3obj"``). A genome whose network produced
  NaN/inf has mean reward -inf; for ranking it counts as just below the worst finite score.
* vary: cull the worst ``cull_ratio``, copy the best ``elite_ratio`` unchanged, fill the rest
  with one-mutation children of tournament winners.

All randomness of the search comes from ``state.rng`` on the root; rollouts use seeds derived
from (seed, generation, rep). So a run is a pure function of its config, whatever the number
of ranks, and a checkpointed state resumes bit for bit.

Who mutates (``breeding``): with ``"root"`` the root breeds each child from ``state.rng``
and the run's counters, one after another. With ``"workers"`` the root only ranks and runs
the tournaments (``state.rng``, as before) and sends each child's parent and index; the rank
that evaluates the child breeds it first (:func:`src.evaluation.breed_child`: its own RNG
from (seed, generation, index), node ids and innovation numbers reserved per index) and
sends back a small edit. Both are pure functions of the config; they are different searches.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from ..config import WannConfig
from ..core.genome import Genome, Innovations, PendingChild, initial_genome
from ..core.ranking import rank_copies_last, rank_population, tournament
from ..core.variation import NEW_INNOVATIONS_PER_CHILD, NEW_NODES_PER_CHILD, mutate
from ..evaluation import (
    CHAMPION_STREAM,
    SEARCH_STREAM,
    EvalRequest,
    EvalResult,
    breed_child,
    evaluate,
    gather_returns,
    objectives,
    rollout_slices,
)
from ..parallel import Executor, chunk_size, item_rollouts, rollout_pieces, whole_from
from ..tasks import activation_pool, make_task

STATS_COLUMNS = (
    "generation",
    "evaluations",
    "distinct",
    "env_steps",
    "best_mean",
    "best_max",
    "median_mean",
    "median_connections",
    "seconds",
)


@dataclass
class SearchState:
    """Everything a search needs to go on; what a checkpoint holds.

    Attributes:
        config: the run config.
        generation: index of ``population``'s generation.
        population: the genomes of that generation.
        objectives: (pop_size, 3) mean reward, max reward, connections; ``None`` until evaluated.
        rng: the search's only random generator (ranking draws, tournaments, mutations).
        innovations: run-wide node id / innovation counters.
        history: one dict per finished generation (the rows of stats.csv).
        best: best genome so far by mean reward, with its scores (``best_info``).
    """

    config: WannConfig
    generation: int
    population: list[Genome]
    objectives: np.ndarray | None
    rng: np.random.Generator
    innovations: Innovations
    history: list[dict[str, float]] = field(default_factory=list)
    best: Genome | None = None
    best_info: dict[str, Any] = field(default_factory=dict)
    #: ``starts > 1``: the last generation's genomes of the best start so far, from the end of
    #: the first start until the search goes on from them (checkpointed)
    reserve: list[Genome] | None = None
    #: memo of champion re-evaluations, genome key -> (score, env steps); never checkpointed:
    #: the same genome always gets the same score (fixed seeds), so it only saves time
    champion_memo: dict[bytes, tuple[float, int]] = field(default_factory=dict, repr=False)
    #: seconds a rollout took in the last evaluation's costly work items (95th percentile of
    #: busy time over rollouts, :func:`costly_rollout_seconds`; 0 before one): sizes work items only
    #: (:func:`src.parallel.item_rollouts`), never checkpointed
    rollout_seconds: float = field(default=0.0, repr=False)


def costly_rollout_seconds(results: Sequence[EvalResult]) -> float:
    """Seconds per rollout of the costly items: the 95th percentile over the work items of
    busy time / rollouts (0 if none). (A replicated loop that split a generation genome by
    genome has one item a rank: then it is near the mean rollout's, and sizes only the
    champion's re-scoring slices and, should the split fall back to items, their floor.)

    The floor on an item's length (:data:`src.parallel.schedule.MIN_ITEM_SECONDS`) is judged
    by it, not by the mean: with skewed costs (biped: most episodes fall within 150 steps, a
    walker's last 1600, 6-7x the mean) a floor of a few mean rollouts makes the last items of
    a generation several walker rollouts long, and the generation waits for them (simulated
    at 127 workers, pop 480: 0.87 of ideal with the mean, 0.96 with this; docs/mpi.md). Not
    the maximum: one item slowed by the machine (or a kernel compiled on first use) would
    then shrink every item of the next generation. With even costs this is about the mean.
    """
    rates = [r.busy_seconds / r.returns.size for r in results if r.returns.size]
    return float(np.percentile(rates, 95)) if rates else 0.0


def snapshot(state: SearchState) -> SearchState:
    """A copy of ``state`` that later generations leave unchanged (to checkpoint it later).

    Genomes and objective arrays are never modified in place, so they are shared; the RNG,
    the innovation counters and the lists are copied.
    """
    return replace(
        state,
        population=list(state.population),
        reserve=None if state.reserve is None else list(state.reserve),
        rng=copy.deepcopy(state.rng),
        innovations=copy.copy(state.innovations),
        history=list(state.history),
        best_info=dict(state.best_info),
    )


def initial_state(config: WannConfig) -> SearchState:
    """Generation 0: ``pop_size`` initial genomes drawn from ``default_rng(config.seed)``."""
    task = make_task(config)
    rng = np.random.default_rng(config.seed)
    return SearchState(
        config=config,
        generation=0,
        population=initial_population(config, rng),
        objectives=None,
        rng=rng,
        innovations=Innovations.start(task.n_inputs, task.n_outputs),
    )


def initial_population(config: WannConfig, rng: np.random.Generator) -> list[Genome]:
    """``pop_size`` initial genomes of ``config``'s task drawn from ``rng`` (generation 0,
    and the first generation of each later start)."""
    task = make_task(config)
    return [
        initial_genome(task.n_inputs, task.n_outputs, config.prob_init_enable, rng)
        for _ in range(config.pop_size)
    ]


def rankable(objs: np.ndarray) -> np.ndarray:
    """Objectives with non-finite rewards replaced by (worst finite value - 1) per column."""
    out = np.array(objs, dtype=np.float64, copy=True)
    for col in (0, 1):
        bad = ~np.isfinite(out[:, col])
        if bad.any():
            finite = out[~bad, col]
            out[bad, col] = (finite.min() if finite.size else 0.0) - 1.0
    return out


class Offspring(NamedTuple):
    """A child still to be bred (``breeding = "workers"``): by the rank that evaluates it.
    (A named tuple: a generation makes 768 at MNIST's pop 960 on every rank of a replicated
    loop, and a frozen dataclass took three times as long to make.)

    Attributes:
        parent: the tournament winner it is a one-mutation copy of.
        index: its position in the new population (selects its RNG and reserved ids).
        generation: the generation it belongs to.
        base: the run's (next node id, next innovation) when the generation was bred.
    """

    parent: Genome
    index: int
    generation: int
    base: tuple[int, int]

    def make(self, config: WannConfig) -> Genome:
        """The child, bred here (what the evaluating rank does)."""
        return breed_child(config, self.generation, self.index, self.parent, self.base)


def next_population(state: SearchState) -> list[Genome]:
    """Rank the evaluated population and build the next one (consumes ``state.rng``).

    With ``breeding = "workers"`` the children are bred here, as a worker would.
    """
    return [g if isinstance(g, Genome) else g.make(state.config) for g in breed(state)]


def start_scores(history: Sequence[dict[str, float]], config: WannConfig) -> list[float]:
    """The score of each finished start (``starts > 1``), from the rows of ``history``: the
    highest ``best_mean`` of its generations (``start_pick = 'max'``: the highest
    ``best_max``), or with ``start_pick = 'tuned'`` its last generation's ``start_probe``
    (:func:`start_probe`)."""
    n = config.start_generations
    done = min(len(history) // n, config.starts) if config.starts > 1 else 0
    if config.start_pick == "tuned":
        return [float(history[(s + 1) * n - 1]["start_probe"]) for s in range(done)]
    column = "best_max" if config.start_pick == "max" else "best_mean"
    return [max(r[column] for r in history[s * n : (s + 1) * n]) for s in range(done)]


def in_starts(config: WannConfig, generation: int) -> bool:
    """Whether ``generation`` belongs to one of the starts (``starts > 1``)."""
    return config.starts > 1 and generation < config.starts * config.start_generations


def ends_start(state: SearchState) -> bool:
    """Whether ``state.generation`` is the last generation of a start (``starts > 1``)."""
    config = state.config
    done = state.generation + 1
    return in_starts(config, state.generation) and done % config.start_generations == 0


def start_probe(state: SearchState, executor: Executor) -> tuple[float, int]:
    """(score, env steps) of the evaluated generation's best genome by mean reward (the first
    of equals), its weights trained by a short PEPG run (:func:`src.search.probe.tuned_score`):
    the start's score with ``start_pick = 'tuned'``."""
    from .probe import tuned_score

    assert state.objectives is not None
    i = int(np.argmax(rankable(state.objectives)[:, 0]))
    return tuned_score(state.config, state.population[i], state.generation, executor)


def next_generation(state: SearchState) -> Iterable[Genome | Offspring]:
    """The genomes of the generation after ``state``'s: :func:`breed` (lazy), except at the
    end of a start (``starts > 1``).

    There, the start just finished becomes the reserve if it scored higher than every start
    before it (:func:`start_scores`; the first start always does). Then the next start
    begins from ``pop_size`` fresh initial genomes drawn from ``state.rng``, or, after the
    last start, the search goes on from the reserve (the best start's last genomes,
    evaluated again as the next generation). All of it a function of the state, so the same
    at any rank count and on resume (the reserve is checkpointed).
    """
    config = state.config
    n, done = config.start_generations, state.generation + 1
    if not ends_start(state):
        return breed(state)
    *before, last = start_scores(state.history, config)
    if not before or last > max(before):
        state.reserve = list(state.population)
    if done < config.starts * n:
        return initial_population(config, state.rng)
    population, state.reserve = state.reserve or list(state.population), None
    return population


def ranking_of(config: WannConfig, generation: int) -> str:
    """The ranking method of ``generation``'s population: ``start_ranking`` within the starts
    (``starts > 1``, unless it is ``'same'``), else ``ranking``."""
    if in_starts(config, generation) and config.start_ranking != "same":
        return config.start_ranking
    return config.ranking


def select(
    config: WannConfig,
    objs: np.ndarray,
    population: Sequence[Genome],
    rng: np.random.Generator,
    ranking: str,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Rank an evaluated generation and run the tournaments (one draw of ``rng`` each):
    ``(order, winners, n_elite)``, the members best first, the ``pop_size - n_elite``
    tournament winners (parents of the children, in order), and how many of ``order``'s
    first go on unchanged. ``population`` is read only with ``duplicates = 'last'`` (its
    keys)."""
    if config.duplicates == "last":
        seen: dict[bytes, int] = {}
        first = [seen.setdefault(g.key(), i) for i, g in enumerate(population)]
        ranks = rank_copies_last(
            rankable(objs),
            np.array(first),
            ranking,
            rng,
            config.prob_moo,
            config.crowding,
            config.complexity,
        )
    else:
        ranks = rank_population(
            rankable(objs), ranking, rng, config.prob_moo, config.crowding, config.complexity
        )
    order = np.empty(len(ranks), dtype=np.int64)  # the ranks are a permutation of 0..n-1:
    order[ranks] = np.arange(len(ranks))  # its inverse is their stable argsort
    n, size = config.pop_size, len(objs)
    n_parents = max(1, size - int(math.floor(config.cull_ratio * size)))
    n_elite = min(int(math.floor(config.elite_ratio * n)), n)
    winners = tournament(ranks, order[:n_parents], n - n_elite, config.tourn_size, rng)
    return order, winners, n_elite


def reserve(innovations: Innovations, n: int) -> tuple[int, int]:
    """The run's counters now (a generation's base), moved on by one reserved block of node
    ids and innovation numbers for each of ``n`` population slots (``breeding =
    'workers'``: :func:`src.evaluation.child_innovations`)."""
    base = (innovations.next_node_id, innovations.next_innovation)
    innovations.next_node_id += NEW_NODES_PER_CHILD * n
    innovations.next_innovation += NEW_INNOVATIONS_PER_CHILD * n
    return base


def breed(state: SearchState) -> Iterator[Genome | Offspring]:
    """The next population one genome at a time: the elites, then each child as it is made.

    Lazy, so the search can send the first genomes out for evaluation while it still breeds
    the rest (``evaluate_population(state, executor, breed(state))``). Ranking and
    tournaments happen at the first ``next()``; ``state.rng`` is drawn from exactly as by
    :func:`next_population`. The parents and objectives are taken now. With ``breeding =
    "workers"`` each child is an :class:`Offspring` (its parent and index) instead, and the
    run's counters move on by one reserved block per population slot at the first ``next()``.
    """
    config, pop, rng, objs = state.config, list(state.population), state.rng, state.objectives
    assert objs is not None
    innovations = state.innovations
    generation = state.generation + 1
    ranking = ranking_of(config, state.generation)

    def genomes() -> Iterator[Genome | Offspring]:
        order, winners, n_elite = select(config, objs, pop, rng, ranking)
        yield from (pop[i] for i in order[:n_elite])
        if config.breeding == "workers":
            base = reserve(innovations, config.pop_size)
            for index, i in enumerate(winners.tolist(), start=n_elite):
                yield Offspring(pop[i], index, generation, base)
            return
        pool = activation_pool(config, make_task(config))
        for i in winners.tolist():
            child, _ = mutate(
                pop[i],
                rng,
                innovations,
                config.mutation_probs,
                pool,
                config.connect_outputs,
                config.add_connection,
                config.mutation_no_op,
            )
            yield child

    return genomes()


def evaluate_population(
    state: SearchState,
    executor: Executor,
    population: Iterable[Genome | Offspring] | None = None,
) -> tuple[np.ndarray, int, int, float]:
    """Evaluate each distinct genome once; returns (objectives, distinct, env_steps, busy s).

    ``population``: the genomes, possibly lazy (:func:`breed`); they become
    ``state.population``. Chunks (:func:`src.parallel.chunk_size`) are cut as the genomes
    come, so the first ones are evaluated while the rest are still being bred. Default:
    ``state.population``. The chunking never changes a result: each genome's returns depend
    on the genome and the generation's seeds only. Items hold about as many rollouts as
    :func:`src.parallel.item_rollouts` says (sized with the last generation's cost per
    rollout); below one genome, genomes are cut into slices of rollouts.

    An :class:`Offspring` goes out as its parent and index: the evaluating rank breeds and
    evaluates the child, and the child is rebuilt here from the edit that comes back. Its
    twins are only known then, so every such child is rolled out (``distinct`` counts it).
    """
    config = state.config
    source = state.population if population is None else population
    expected = len(state.population) if population is None else config.pop_size
    members: list[Genome | Offspring] = []
    keys: list[bytes | None] = []
    first: dict[bytes, int] = {}
    evaluated: list[int] = []  # member of each evaluated row, in request order
    bred: list[list[int]] = []  # per work item: the members whose children it bred
    base = (0, 0)
    n_rollouts = len(config.weights) * config.n_reps
    n_workers, seconds = executor.n_workers, state.rollout_seconds

    def chunk_genomes(left: int) -> int:
        """Genomes in the next whole-genome chunk: guided, and no longer than an item."""
        want = chunk_size(left, n_workers, config.chunk_genomes)
        if config.chunk_genomes or n_workers <= 1:
            return want
        return min(want, max(1, item_rollouts(left * n_rollouts, n_workers, seconds) // n_rollouts))

    def request(chunk: list[Genome], children: list[int], who: list[int], **kw: Any) -> EvalRequest:
        """A work item of the genomes of members ``who``; ``children`` (the index of each
        genome's child, -1: none) only when it breeds some (root breeding's are as before)."""
        first_slice = kw.get("rollouts") is None or kw["rollouts"][0] == 0
        bred.append(who if first_slice else [])
        if not any(i >= 0 for i in children):
            return EvalRequest.of(config, state.generation, chunk, **kw)
        return EvalRequest.of(
            config, state.generation, chunk, children=tuple(children), innovations=base, **kw
        )

    def admit(entry: Genome | Offspring) -> tuple[Genome, int] | None:
        """Take the next member; the genome to evaluate for it and its child's index (-1:
        none), or ``None`` for a copy of an earlier member's network."""
        nonlocal base
        members.append(entry)
        if isinstance(entry, Offspring):
            if entry.generation != state.generation:
                raise ValueError(
                    f"a child of generation {entry.generation} in generation {state.generation}"
                )
            base = entry.base
            keys.append(None)
            return entry.parent, entry.index
        keys.append(entry.key())
        if keys[-1] in first:
            return None
        first[keys[-1]] = len(members) - 1
        return entry, -1

    slicing = (n_rollouts, n_workers, config.split_rollouts, seconds)

    def sliced(genome: Genome, index: int, member: int, pieces: int) -> list[EvalRequest]:
        """A genome's rollouts as ``pieces`` work items."""
        return [
            request([genome], [index], [member], rollouts=part)
            for part in rollout_slices(n_rollouts, pieces)
        ]

    def requests() -> Iterator[EvalRequest]:
        chunk: list[Genome] = []
        children: list[int] = []
        who: list[int] = []
        want = chunk_genomes(expected)
        whole = whole_from(*slicing, most=max(1, expected))  # genomes left: kept whole
        for entry in source:
            admitted = admit(entry)
            if admitted is None:
                continue
            genome, index = admitted
            evaluated.append(len(members) - 1)
            # distinct genomes still to come, this one included (guessed as below)
            here = max(1, round((expected - len(members) + 1) * len(evaluated) / len(members)))
            pieces = 1 if here >= whole else rollout_pieces(here, *slicing)
            if pieces > 1:  # slices of this genome's rollouts, after the chunk before it
                if chunk:
                    yield request(chunk, children, who)
                    chunk, children, who = [], [], []
                yield from sliced(genome, index, len(members) - 1, pieces)
                continue
            chunk.append(genome)
            children.append(index)
            who.append(len(members) - 1)
            if len(chunk) >= want:
                yield request(chunk, children, who)
                chunk, children, who = [], [], []
                # distinct genomes still to come, guessed from the share of duplicates so far
                left = max(1, round((expected - len(members)) * len(evaluated) / len(members)))
                want = chunk_genomes(left)
        if chunk:
            yield request(chunk, children, who)

    def planned() -> list[EvalRequest]:
        """Every member first, then one work item per share of the executor's split of the
        distinct genomes (a replicated loop's ``plan``:
        :meth:`src.parallel.replicated.ReplicatedExecutor.plan`), in its order: not
        contiguous runs of members. Too few distinct genomes for that (copies among the
        members: swing-up's first generation has ~60 networks in 192): one item a genome,
        the last ones cut into slices of rollouts as :func:`requests` would, for the
        executor to split as items."""
        distinct: list[tuple[int, Genome, int]] = []
        for entry in source:
            admitted = admit(entry)
            if admitted is not None:
                distinct.append((len(members) - 1, *admitted))
        items = []
        if not executor.plans(len(distinct)):  # type: ignore[attr-defined]
            for k, (m, genome, index) in enumerate(distinct):
                evaluated.append(m)
                pieces = rollout_pieces(len(distinct) - k, *slicing)  # genomes left, exact
                if pieces > 1:
                    items += sliced(genome, index, m, pieces)
                else:
                    items.append(request([genome], [index], [m]))
            return items
        networks = [(g.key(), 8 + g.n_connections) for _, g, _ in distinct]
        for share in executor.plan(networks, n_rollouts, SEARCH_STREAM):  # type: ignore[attr-defined]
            picked = [distinct[i] for i in share]
            who = [m for m, _, _ in picked]
            evaluated.extend(who)
            items.append(request([g for _, g, _ in picked], [i for _, _, i in picked], who))
        return items

    def rebuild(item: int, result: EvalResult) -> None:
        """Rebuild the children an item bred (as its result arrives: the workers are busy)."""
        if result.children is None:
            return
        for m, made in zip(bred[item], result.children):
            entry = members[m]
            if made is not None and isinstance(entry, Offspring):
                members[m] = PendingChild(entry.parent, *made)  # built where it is used
                keys[m] = made[1]

    # split genome by genome (replicated loops), unless slices of rollouts are asked for
    plans = getattr(executor, "plans", None)
    split = plans is not None and not config.split_rollouts and plans(expected)
    items = planned() if split else requests()
    if config.breeding == "workers":
        results: list[EvalResult] = executor.map(evaluate, items, rebuild)
    else:  # as before: executors written without on_result still serve
        results = executor.map(evaluate, items)
    state.rollout_seconds = costly_rollout_seconds(results)
    returns = gather_returns(results, len(config.weights), config.n_reps)
    row_of = {m: j for j, m in enumerate(evaluated)}
    state.population = [g for g in members if isinstance(g, Genome)]
    if len(state.population) != len(members):
        raise RuntimeError("a child bred on a worker never came back")
    rows = [row_of[m] if m in row_of else row_of[first[k]] for m, k in enumerate(keys)]
    all_returns = returns[rows]
    conns = np.array([g.n_connections for g in state.population])
    objs = objectives(all_returns, conns)
    return (
        objs,
        len(evaluated),
        sum(r.env_steps for r in results),
        sum(r.busy_seconds for r in results),
    )


def stats_row(
    generation: int,
    objs: np.ndarray,
    distinct: int,
    steps: int,
    seconds: float,
    busy: float,
    workers: int,
) -> dict[str, float]:
    """A generation's row of stats.csv (:data:`STATS_COLUMNS`) and its ``busy`` share: the
    evaluating processes' busy seconds over ``seconds`` times their number."""
    return {
        "generation": generation,
        "evaluations": len(objs),
        "distinct": distinct,
        "env_steps": steps,
        "best_mean": float(objs[:, 0].max()),
        "best_max": float(objs[:, 1].max()),
        "median_mean": float(np.median(rankable(objs)[:, 0])),
        "median_connections": float(np.median(objs[:, 2])),
        "seconds": seconds,
        "busy": min(1.0, busy / max(seconds * workers, 1e-12)),
    }


def _update_best(state: SearchState, executor: Executor) -> int:
    """Update the champion (``state.best``) from the evaluated generation; returns env steps.

    With ``champion_reps = 0`` the champion is the genome with the best mean reward seen in
    any single generation. That mean comes from ``len(weights) * n_reps`` rollouts and is the
    maximum over every genome ever evaluated, so it favours the luckiest draw more than the
    best network. With ``champion_reps > 0`` (the reference code re-tested a new best on
    many more rollouts before accepting it) the ``champion_candidates`` best genomes of each
    generation are re-evaluated on ``champion_reps`` rollouts per weight with one fixed set
    of seeds for the whole run (its own stream, never the search's), and the champion is the
    best of those scores. Re-evaluations are memoised in ``state.champion_memo``; the steps
    they cost are counted whether memoised or not, so statistics do not depend on the memo.
    """
    objs = state.objectives
    assert objs is not None
    config = state.config
    means = rankable(objs)[:, 0]
    if config.champion_reps == 0:
        i = int(np.argmax(means))
        if state.best is None or objs[i, 0] > state.best_info["mean_reward"]:
            _set_best(state, i, float(objs[i, 0]))
        return 0
    picked, keys = champion_candidates(
        means, lambda i: state.population[i].key(), config.champion_candidates
    )
    todo = [j for j, k in enumerate(keys) if k not in state.champion_memo]
    if todo:
        cfg = config.replace(n_reps=config.champion_reps)
        n = len(cfg.weights) * cfg.n_reps
        pieces = rollout_pieces(
            len(todo), n, executor.n_workers, cfg.split_rollouts, state.rollout_seconds
        )
        parts = rollout_slices(n, pieces)
        reqs = [
            EvalRequest.of(cfg, 0, [state.population[picked[j]]], CHAMPION_STREAM, part)
            for j in todo
            for part in (parts if len(parts) > 1 else [None])
        ]
        results = executor.map(evaluate, reqs)
        returns = gather_returns(results, len(cfg.weights), cfg.n_reps)
        for k, j in enumerate(todo):
            score = float(objectives(returns[k : k + 1], np.zeros(1))[0, 0])
            steps = sum(r.env_steps for r in results[k * len(parts) : (k + 1) * len(parts)])
            state.champion_memo[keys[j]] = (score if np.isfinite(score) else -np.inf, steps)
    live = {g.key() for g in state.population}
    for k in [k for k in state.champion_memo if k not in live]:
        del state.champion_memo[k]
    scores = [state.champion_memo[k][0] for k in keys]
    j = int(np.argmax(scores))
    best_score = state.best_info.get("champion_score", -np.inf) if state.best is not None else None
    if best_score is None or scores[j] > best_score:
        _set_best(state, picked[j], scores[j])
    return sum(state.champion_memo[k][1] for k in keys)


def champion_candidates(
    means: np.ndarray, key_of: Callable[[int], bytes], n: int
) -> tuple[list[int], list[bytes]]:
    """The members with the ``n`` best mean rewards among distinct networks (the first of
    equals, a network once, by ``key_of(member)``), and their keys: whom the champion's
    re-scoring compares."""
    picked: list[int] = []
    keys: list[bytes] = []
    for i in np.argsort(-means, kind="stable").tolist():
        key = key_of(i)
        if key not in keys:
            picked.append(i)
            keys.append(key)
        if len(picked) == n:
            break
    return picked, keys


def _set_best(state: SearchState, i: int, champion_score: float) -> None:
    state.best = state.population[i]
    state.best_info = best_info(state, i, champion_score)


def best_info(state: SearchState, i: int, champion_score: float) -> dict[str, Any]:
    """The champion's figures when member ``i`` of the evaluated generation becomes it."""
    objs = state.objectives
    assert objs is not None
    info: dict[str, Any] = {
        "generation": state.generation,
        "mean_reward": float(objs[i, 0]),
        "max_reward": float(objs[i, 1]),
        "n_connections": int(objs[i, 2]),
    }
    if state.config.champion_reps:
        info["champion_score"] = champion_score
        info["champion_rollouts"] = state.config.champion_reps * len(state.config.weights)
    return info


class Reporter:
    """A per-generation hook of :func:`run`; subclass it and override what you need.

    Any object with these three methods will do (duck typing); this class gives each a
    default that does nothing. :func:`run` calls, in order, ``start`` once before the first
    generation it evaluates, ``generation`` after each generation is evaluated (and the
    champion updated), and ``end`` once when it returns or raises. The reporters of a run
    are called in the order given; none may change ``state``. The built-in ones:
    ``src.search.reporters`` (``stats.csv`` and ``best_genome.json``; the progress line) and
    ``src.search.tensorboard`` (TensorBoard scalars).
    """

    def start(self, state: SearchState, where: str) -> None:
        """Before the first generation of this call of :func:`run`.

        ``state``: fresh (``history`` empty) or resumed (``history`` holds the finished
        generations); ``where``: the executor in words (``"3 ranks"``).
        """

    def generation(self, state: SearchState, row: dict[str, float]) -> None:
        """After generation ``state.generation`` was evaluated: ``row`` is its stats.csv row
        (:data:`STATS_COLUMNS`, plus ``busy``: the workers' busy share), already appended to
        ``state.history``; ``state.best`` / ``state.best_info`` hold the champion so far."""

    def end(self, state: SearchState) -> None:
        """When :func:`run` returns (done or stopped) or raises: flush and close."""


def run(
    state: SearchState,
    executor: Executor,
    reporters: Sequence[Reporter] = (),
    on_generation: Callable[[SearchState], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SearchState:
    """Run generations until ``config.generations`` are done or ``should_stop()`` says so.

    ``state`` is either unevaluated (a fresh start) or evaluated (from a checkpoint: the next
    population is bred first). ``reporters`` (:class:`Reporter`) see every generation;
    ``on_generation`` (checkpointing) is called after them; ``should_stop`` is polled right
    after it.
    """
    for reporter in reporters:
        reporter.start(state, executor.describe())
    try:
        return _generations(state, executor, reporters, on_generation, should_stop)
    finally:
        for reporter in reporters:
            reporter.end(state)


def done(state: SearchState) -> bool:
    """Whether :func:`run` has nothing more to do: the last generation is evaluated."""
    return state.objectives is not None and state.generation + 1 >= state.config.generations


def _generations(
    state: SearchState,
    executor: Executor,
    reporters: Sequence[Reporter],
    on_generation: Callable[[SearchState], None] | None,
    should_stop: Callable[[], bool],
) -> SearchState:
    config = state.config
    while True:
        if state.objectives is not None:
            if done(state):
                return state
            population = next_generation(state)  # bred while the first chunks are evaluated
            state.generation += 1
            state.objectives = None
        else:
            population = None
        start = time.perf_counter()
        objs, distinct, steps, busy = evaluate_population(state, executor, population)
        state.objectives = objs
        steps += _update_best(state, executor)
        probe = math.nan  # a column only with start_pick = 'tuned' (the rows' keys stay)
        if config.start_pick == "tuned" and ends_start(state):
            probe, probe_steps = start_probe(state, executor)
            steps += probe_steps
        seconds = time.perf_counter() - start
        row = stats_row(state.generation, objs, distinct, steps, seconds, busy, executor.n_workers)
        if config.start_pick == "tuned":
            row["start_probe"] = probe
        state.history.append(row)
        for reporter in reporters:
            reporter.generation(state, row)
        if on_generation is not None:
            on_generation(state)
        if should_stop():
            return state
