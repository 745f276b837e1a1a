"""Evaluation: a pure function from a request to returns, runnable on any rank.

An :class:`EvalRequest` is the whole wire format between root and workers: the run config,
the generation number and a chunk of genomes as flat arrays. Rollout seeds derive from
(run seed, generation, rep) only, so a genome's returns do not depend on which rank ran it,
nor on how the population was cut into chunks (common random numbers: every genome of a
generation sees the same seeds).

A request may also carry only a slice of one genome's rollouts (``rollouts=(start, stop)``
over the weight-major list of ``len(weights) * n_reps`` rollouts), so that more ranks than
genomes all have work; :func:`gather_returns` joins the slices again. A rollout's return
depends only on (network, weight, seed) (the task contract, ``src.tasks.Task``), so a split
genome's returns are bit-identical to an unsplit one's.

With ``breeding = "workers"`` a request may also name, per genome, the index of a child to
breed from it (``children``): the evaluating rank then mutates that parent into the child
(:func:`breed_child`, a pure function of the parent, (seed, generation, index) and the
generation's base of node ids and innovation numbers) and evaluates the child; the result
carries each child as a small edit of its parent (:func:`src.core.genome.edit_of`) and its
key, from which the root rebuilds it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .config import WannConfig
from .core import weights as shared_weights
from .core.genome import Genome, Innovations, edit_of, pack, unpack
from .core.network import compile_genome
from .core.variation import NEW_INNOVATIONS_PER_CHILD, NEW_NODES_PER_CHILD, mutate
from .tasks import activation_pool, make_task

#: Rollout seed streams: the search's (one set per generation) and the champion's (one set
#: for the whole run, so candidates from different generations meet the same episodes).
SEARCH_STREAM, CHAMPION_STREAM = 0, 1
#: Third entropy word of a child's RNG (``[seed, generation, BREED_TAG, index]``): no other
#: draw of a run uses it there (rollouts: ``[seed, generation(, stream)]``; weights:
#: third word 2 or 3, or last word 4).
BREED_TAG = 5


@dataclass(frozen=True)
class EvalRequest:
    """Evaluate a chunk of genomes of one generation.

    Attributes:
        config: the run config (task, weights, n_reps, seed, ...).
        generation: selects the rollout seeds.
        genomes: packed genomes (:func:`src.core.genome.pack`); their enabled connections
            only unless the request breeds children (``children``), whose parents go whole.
        stream: which seeds: :data:`SEARCH_STREAM` (the generation's) or
            :data:`CHAMPION_STREAM` (the fixed seeds champion candidates are compared on).
        rollouts: ``None`` (every rollout) or ``(start, stop)``: only those of the genome's
            weight-major rollouts (:func:`rollout_weights`); then ``genomes`` holds one genome.
    """

    config: WannConfig
    generation: int
    packed: dict[str, np.ndarray] | None
    stream: int = SEARCH_STREAM
    rollouts: tuple[int, int] | None = None
    children: tuple[int, ...] | None = None
    innovations: tuple[int, int] = (0, 0)

    @classmethod
    def of(
        cls,
        config: WannConfig,
        generation: int,
        genomes: list,
        stream: int = 0,
        rollouts: tuple[int, int] | None = None,
        children: tuple[int, ...] | None = None,
        innovations: tuple[int, int] = (0, 0),
    ) -> EvalRequest:
        if rollouts is not None and len(genomes) != 1:
            raise ValueError(f"a slice of rollouts is of one genome, not {len(genomes)}")
        if children is not None and len(children) != len(genomes):
            raise ValueError(f"{len(children)} child indices for {len(genomes)} genomes")
        request = cls(config, generation, None, stream, rollouts, children, innovations)
        object.__setattr__(request, "_source", tuple(genomes))
        return request

    @property
    def genomes(self) -> dict[str, np.ndarray]:
        """The packed genomes (:func:`src.core.genome.pack`), packed on first use: when the
        request is pickled for a worker. Where it was made it is evaluated from its genomes
        (:meth:`local_genomes`), so a rank of a replicated loop
        (:mod:`src.parallel.replicated`), which makes every request of a generation and
        evaluates its own, packs none."""
        if self.packed is None:
            source = self.__dict__["_source"]
            object.__setattr__(self, "packed", pack(list(source), self.children is None))
        assert self.packed is not None
        return self.packed

    def local_genomes(self) -> list[Genome]:
        """The genomes to evaluate: those the request was made of, where it was made (the
        same networks as the packed ones: a network is its enabled connections, which
        packing keeps in order), else unpacked."""
        source = self.__dict__.get("_source")
        return list(source) if source is not None else unpack(self.genomes)

    @property
    def n_genomes(self) -> int:
        source = self.__dict__.get("_source")
        if source is not None:
            return len(source)
        assert self.packed is not None
        return len(self.packed["node_offsets"]) - 1

    @property
    def cost(self) -> float:
        """A guess of the request's evaluation cost, the same on every rank: its rollouts
        times its genomes' connections (plus a constant per network). Static shares of a
        replicated loop are balanced by it."""
        found = self.networks()
        if found is not None:
            rollouts, _, sizes = found
            return float(rollouts * sum(sizes))
        # the same numbers from the packed form: enabled connections per genome
        assert self.packed is not None
        enabled = np.concatenate(([0], np.cumsum(self.packed["conns"][:, 2])))
        offsets = self.packed["conn_offsets"]
        connections = (enabled[offsets[1:]] - enabled[offsets[:-1]]).tolist()
        return float(self._rollouts() * sum(8 + c for c in connections))

    def _rollouts(self) -> int:
        """Rollouts per genome: its slice's, or every one."""
        if self.rollouts is not None:
            return self.rollouts[1] - self.rollouts[0]
        return self.config.n_reps * len(self.config.weights)

    def networks(self) -> tuple[int, list[bytes], list[int]] | None:
        """(rollouts per genome, each genome's key, each genome's cost guess per rollout:
        connections + 8) where the request was made, else ``None``: what a replicated loop
        learns costs by (:class:`src.parallel.replicated.MeasuredCosts`). Computed once."""
        cached = self.__dict__.get("_networks")
        if cached is not None:
            return cached
        source = self.__dict__.get("_source")
        if source is None:
            return None
        found = (self._rollouts(), [g.key() for g in source], [8 + g.n_connections for g in source])
        object.__setattr__(self, "_networks", found)
        return found

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["packed"] = self.genomes
        state.pop("_source", None)
        state.pop("_networks", None)
        return state


@dataclass(frozen=True)
class EvalResult:
    """Returns of a chunk.

    Attributes:
        returns: (n_genomes, n_weights, n_reps) episode returns; -inf where a network gave NaN/inf.
            For a slice of rollouts: (1, stop - start), in rollout order.
        env_steps: environment steps simulated.
        busy_seconds: time the evaluating rank spent on this request (breeding included).
        rollouts: the request's slice, ``None`` for every rollout.
        children: with the request's ``children``: per genome ``None`` (evaluated as sent)
            or ``(edit, key, connections)`` of the child bred and evaluated in its place
            (:func:`src.core.genome.apply_edit` rebuilds it from the parent;
            :class:`src.core.genome.PendingChild` stands for it until then).
        genome_seconds: per genome, the seconds its breeding and rollouts took (``None`` for
            a slice of rollouts): what a replicated loop learns each network's cost by
            when an item holds many (:meth:`src.parallel.replicated.MeasuredCosts.learn`).
    """

    returns: np.ndarray
    env_steps: int
    busy_seconds: float
    rollouts: tuple[int, int] | None = None
    children: tuple[tuple[np.ndarray, bytes, int] | None, ...] | None = None
    genome_seconds: np.ndarray | None = None


#: The integer arrays of an encoded part, in order (then the floats: returns, busy; then
#: the keys' bytes).
_INT_FIELDS = ("index", "shapes", "rollouts", "steps", "n_children", "edits", "edit_lens")
_INT_FIELDS += ("key_lens", "conns", "n_seconds")


def _le(a: np.ndarray, dtype: str) -> bytes:
    return np.asarray(a).astype(dtype, copy=False).tobytes()


def encode_results(pairs: list[tuple[int, EvalResult]]) -> bytes:
    """``(index, EvalResult)`` pairs as one byte string of a few flat arrays: what a rank of
    a replicated loop sends (:mod:`src.parallel.replicated`). Unpickling ~340 results of a
    pop-960 generation one object and array at a time took 5.7 ms on every rank; a dict of
    twelve arrays a rank, 1.2 ms of unpickling alone; this, a few views of one buffer.
    Layout: the lengths of the ten integer arrays (:data:`_INT_FIELDS`), of the returns and
    of the genomes' seconds, then those integers, the returns, the busy seconds and the
    genomes' seconds (float64), the keys' bytes.
    Inverse: :func:`decode_results` (every number bit for bit)."""
    n = len(pairs)
    shapes = np.zeros((n, 3), dtype=np.int64)  # returns' shape; (1, k, 0) for a slice
    rollouts = np.full((n, 2), -1, dtype=np.int64)
    steps = np.empty(n, dtype=np.int64)
    busy = np.empty(n, dtype=np.float64)
    n_children = np.full(n, -1, dtype=np.int64)  # -1: no children tuple
    n_seconds = np.full(n, -1, dtype=np.int64)  # -1: no genome_seconds
    flat, edits, edit_lens, keys, key_lens, conns, seconds = [], [], [], [], [], [], []
    for j, (_, r) in enumerate(pairs):
        if r.genome_seconds is not None:
            n_seconds[j] = len(r.genome_seconds)
            seconds.append(np.asarray(r.genome_seconds, dtype=np.float64))
        shape = r.returns.shape
        shapes[j, : len(shape)] = shape
        flat.append(np.asarray(r.returns, dtype=np.float64).ravel())
        if r.rollouts is not None:
            rollouts[j] = r.rollouts
        steps[j], busy[j] = r.env_steps, r.busy_seconds
        if r.children is not None:
            n_children[j] = len(r.children)
            for made in r.children:
                if made is None:
                    edit_lens.append(-1)
                    key_lens.append(0)
                    conns.append(0)
                    continue
                edit, key, count = made
                edits.append(np.asarray(edit, dtype=np.int64))
                edit_lens.append(len(edit))
                keys.append(key)
                key_lens.append(len(key))
                conns.append(count)
    ints = [
        np.array([i for i, _ in pairs], dtype=np.int64),
        shapes.ravel(),
        rollouts.ravel(),
        steps,
        n_children,
        np.concatenate(edits) if edits else np.empty(0, dtype=np.int64),
        np.array(edit_lens, dtype=np.int64),
        np.array(key_lens, dtype=np.int64),
        np.array(conns, dtype=np.int64),
        n_seconds,
    ]
    returns = np.concatenate(flat) if flat else np.empty(0)
    spent = np.concatenate(seconds) if seconds else np.empty(0)
    head = np.array([len(a) for a in ints] + [len(returns), len(spent)], dtype=np.int64)
    # little-endian whatever the rank's machine (no copy on the usual ones)
    floats = (_le(returns, "<f8"), _le(busy, "<f8"), _le(spent, "<f8"))
    fixed = (_le(head, "<i8"), *(_le(a, "<i8") for a in ints))
    return b"".join((*fixed, *floats, b"".join(keys)))


def decode_results(data: bytes) -> list[tuple[int, EvalResult]]:
    """The pairs :func:`encode_results` encoded (Python lists first: indexing numpy arrays
    one number at a time is what made unpickling slow). Their arrays are read-only views of
    ``data``."""
    head_len = len(_INT_FIELDS) + 2
    head = np.frombuffer(data, dtype="<i8", count=head_len).tolist()
    n, n_ints, n_returns, n_spent = head[0], sum(head[:-2]), head[-2], head[-1]
    every = np.frombuffer(data, dtype="<i8", count=n_ints, offset=8 * head_len)
    ints: dict[str, np.ndarray] = {}
    at = 0
    for name, count in zip(_INT_FIELDS, head):  # views of one buffer: slicing is cheap
        ints[name] = every[at : at + count]
        at += count
    at = 8 * (head_len + n_ints)
    floats = np.frombuffer(data, dtype="<f8", count=n_returns + n + n_spent, offset=at)
    flat, busy = floats[:n_returns], floats[n_returns : n_returns + n].tolist()
    spent = floats[n_returns + n :]
    keys = data[at + 8 * (n_returns + n + n_spent) :]
    edits = ints["edits"]
    edit_lens, key_lens, conns = (ints[k].tolist() for k in ("edit_lens", "key_lens", "conns"))
    shapes = ints["shapes"].reshape(n, 3).tolist()
    rollouts = ints["rollouts"].reshape(n, 2).tolist()
    steps, n_children = ints["steps"].tolist(), ints["n_children"].tolist()
    n_seconds = ints["n_seconds"].tolist()
    out: list[tuple[int, EvalResult]] = []
    at = e_at = k_at = c = s_at = 0
    for j, index in enumerate(ints["index"].tolist()):
        a, b, d = shapes[j]
        shape, size = ((a, b, d), a * b * d) if d else ((a, b), a * b)
        returns = flat[at : at + size].reshape(shape)
        at += size
        lo, hi = rollouts[j]
        children = None
        if n_children[j] >= 0:
            made: list[tuple[np.ndarray, bytes, int] | None] = []
            for _ in range(n_children[j]):
                n_edit = edit_lens[c]
                if n_edit < 0:
                    made.append(None)
                else:
                    k_end = k_at + key_lens[c]
                    made.append((edits[e_at : e_at + n_edit], keys[k_at:k_end], conns[c]))
                    e_at += n_edit
                    k_at = k_end
                c += 1
            children = tuple(made)
        genome_seconds = None
        if n_seconds[j] >= 0:
            genome_seconds = spent[s_at : s_at + n_seconds[j]]
            s_at += n_seconds[j]
        part = None if lo < 0 else (lo, hi)
        out.append((index, EvalResult(returns, steps[j], busy[j], part, children, genome_seconds)))
    return out


def rollout_seeds(seed: int, generation: int, n_reps: int, stream: int = 0) -> np.ndarray:
    """(n_reps,) int64 seeds of a generation's rollouts, a pure function of its arguments.

    Stream 0 (the search) keeps the entropy ``[seed, generation]``; other streams append
    their number, so they never share seeds with the search.
    """
    entropy = [seed, generation] if stream == SEARCH_STREAM else [seed, generation, stream]
    words = np.random.SeedSequence(entropy).generate_state(n_reps, dtype=np.uint32)
    return words.astype(np.int64)


def weight_factors(config: WannConfig, generation: int) -> np.ndarray:
    """(len(weights) * n_reps,) factors ``exp(u)``, ``u ~ U(-weight_jitter, weight_jitter)``.

    With ``weight_jitter > 0`` every search rollout scales its series weight by one of these:
    drawn anew per (weight, rep) and generation, the same for every genome of the generation
    (a pure function of seed and generation, like the rollout seeds). ``ln(2) / 2`` makes
    the series 0.5, 1, 2 cover [0.35, 2.8] without gaps, so the search cannot tune a network
    to the six exact values. Champion re-evaluations use the exact series.
    """
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, generation, 2]))
    n = len(config.weights) * config.n_reps
    return np.exp(rng.uniform(-config.weight_jitter, config.weight_jitter, n))


def rollout_weights(config: WannConfig, generation: int, stream: int) -> np.ndarray:
    """(len(weights) * n_reps,) shared weight of each rollout, weight-major (row = weight).

    * search stream: the series, each weight ``n_reps`` times (scaled by :func:`weight_factors`
      with ``weight_jitter > 0``); with ``weight_sampling = 'stratified'`` row ``b`` holds draws
      in bin ``b`` of ``len(weights)`` equal bins of [-2, 2], new per rep and generation
      (:func:`src.core.weights.stratified`);
    * champion stream: the series; with ``champion_weights = 'uniform'`` draws from U(-2, 2),
      fixed for the run (:func:`src.core.weights.uniform`).
    """
    n_w, n_reps = len(config.weights), config.n_reps
    if stream == SEARCH_STREAM and config.weight_sampling == "stratified":
        return shared_weights.stratified(config.seed, generation, n_w, n_reps).ravel()
    if stream == CHAMPION_STREAM and config.champion_weights == "uniform":
        return shared_weights.uniform(config.seed, generation, stream, n_w, n_reps).ravel()
    w_flat = np.repeat(np.asarray(config.weights, dtype=np.float64), n_reps)
    if config.weight_jitter > 0 and stream == SEARCH_STREAM:
        w_flat = w_flat * weight_factors(config, generation)
    return w_flat


#: Third word of the entropy of :func:`connection_noise`, after (seed, generation): no other
#: draw of a run uses it there
NOISE_TAG = 0x4E01


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 values (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def connection_noise(
    config: WannConfig, generation: int, src: np.ndarray, dst: np.ndarray
) -> np.ndarray:
    """(len(weights), n) coefficients ``1 + weight_noise * u`` of connections ``(src[i],
    dst[i])`` (node ids) in a generation's search rollouts, ``u`` uniform on [-sqrt(3),
    sqrt(3)] (unit variance): one row per weight of the series (or bin), shared by its
    ``n_reps`` rollouts.

    A pure function of (seed, generation, row, source, destination), by hashing: the same
    connection gets the same factor in every genome of the generation (common random
    numbers, as the rollout seeds), whichever rank evaluates it and however the population
    is cut. Keyed by the connection's end nodes, not its innovation number, because genomes
    that are one network (:meth:`src.core.genome.Genome.key`) are evaluated once."""
    base = np.random.SeedSequence([config.seed, generation, NOISE_TAG]).generate_state(
        len(config.weights), dtype=np.uint64
    )
    s = np.asarray(src, dtype=np.int64).astype(np.uint64)
    d = np.asarray(dst, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = _mix(base[:, None] ^ _mix(s * np.uint64(0x9E3779B97F4A7C15) + d)[None, :])
    u = (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))  # [0, 1)
    return 1.0 + config.weight_noise * np.sqrt(3.0) * (2.0 * u - 1.0)


def _rollouts(
    task, request: EvalRequest, genome: Genome, w: np.ndarray, s: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, int]:
    """(returns, env steps) of rollouts ``lo:hi`` of a genome's weight-major list: one task
    call, or with ``weight_noise`` in the search's stream one per row of the weights, each
    with the row's :func:`connection_noise` as edge coefficients."""
    config, plan = request.config, compile_genome(genome)
    if config.weight_noise == 0 or request.stream != SEARCH_STREAM:
        return task.rollouts(plan, w[lo:hi].copy(), s[lo:hi].copy())
    generation = request.generation
    edges = plan.edge_conn
    coefs = connection_noise(config, generation, genome.conn_src[edges], genome.conn_dst[edges])
    returns = np.empty(hi - lo)
    steps = 0
    n_reps = config.n_reps
    a = lo
    while a < hi:
        row = a // n_reps
        b = min(hi, (row + 1) * n_reps)
        r, n = task.rollouts(plan, w[a:b].copy(), s[a:b].copy(), coefs[row])
        returns[a - lo : b - lo] = r
        steps += n
        a = b
    return returns, steps


@lru_cache(maxsize=16)
def _rollout_inputs(config: WannConfig, generation: int, stream: int) -> tuple[np.ndarray, ...]:
    """(weights, seeds) of a genome's weight-major rollouts (read-only): the same for every
    genome of a generation, so a worker computes them once per generation, not per item.
    Tasks get copies (writeable, as always: a numba kernel compiles anew for read-only ones)."""
    seeds = rollout_seeds(config.seed, generation, config.n_reps, stream)
    w_flat = rollout_weights(config, generation, stream)
    s_flat = np.tile(seeds, len(config.weights))
    w_flat.flags.writeable = s_flat.flags.writeable = False
    return w_flat, s_flat


def evaluate(request: EvalRequest) -> EvalResult:
    """Run every rollout of every genome in the request.

    Each genome is rolled out once per (shared weight, rep): ``len(config.weights) * n_reps``
    episodes, rep ``r`` using seed ``rollout_seeds(seed, generation, n_reps)[r]`` for every weight
    (the weights themselves: :func:`rollout_weights`).
    """
    start = time.perf_counter()
    config = request.config
    task = make_task(config)
    w_flat, s_flat = _rollout_inputs(config, request.generation, request.stream)
    genomes = request.local_genomes()
    made = None
    seconds = np.zeros(len(genomes))
    if request.children is not None:
        made = []
        for i, index in enumerate(request.children):
            if index < 0:
                made.append(None)
                continue
            t0 = time.perf_counter()
            child = breed_child(config, request.generation, index, genomes[i], request.innovations)
            made.append((edit_of(genomes[i], child), child.key(), child.n_connections))
            genomes[i] = child
            seconds[i] = time.perf_counter() - t0
        made = tuple(made)
    if request.rollouts is not None:
        lo, hi = request.rollouts
        r, n = _rollouts(task, request, genomes[0], w_flat, s_flat, lo, hi)
        return EvalResult(r.reshape(1, hi - lo), n, time.perf_counter() - start, (lo, hi), made)
    n_weights = len(config.weights)
    returns = np.empty((len(genomes), n_weights, config.n_reps))
    steps = 0
    for i, genome in enumerate(genomes):
        t0 = time.perf_counter()
        r, n = _rollouts(task, request, genome, w_flat, s_flat, 0, w_flat.size)
        returns[i] = r.reshape(n_weights, config.n_reps)
        steps += n
        seconds[i] += time.perf_counter() - t0
    return EvalResult(returns, steps, time.perf_counter() - start, None, made, seconds)


def child_rng(seed: int, generation: int, index: int) -> np.random.Generator:
    """The RNG of the child at ``index`` of generation ``generation``'s population
    (``breeding = "workers"``): a pure function of its arguments, whoever breeds it.

    It is ``np.random.default_rng(np.random.SeedSequence([seed, generation, BREED_TAG,
    index]))``, the same generator in the same state; its seed words are hashed by
    :func:`src.core.genome_jit.seed_words` (~21 -> ~5 us a child; tested against
    SeedSequence), and its ``bit_generator.seed_seq`` is a :class:`_SeedWords`, which
    cannot spawn. A negative value goes to SeedSequence itself, for its error."""
    entropy = [seed, generation, BREED_TAG, index]
    words: list[int] = []
    for v in entropy:
        v = int(v)
        if v < 0:
            return np.random.default_rng(np.random.SeedSequence(entropy))
        words.append(v & 0xFFFFFFFF)  # SeedSequence's 32-bit words, little end first
        v >>= 32
        while v:
            words.append(v & 0xFFFFFFFF)
            v >>= 32
    state = _seed_words()(np.array(words, dtype=np.int64))
    return np.random.Generator(np.random.PCG64(_SeedWords(state)))


@lru_cache(maxsize=1)
def _seed_words():
    """:func:`src.core.genome_jit.seed_words` for an int64 array made here: ahead of time
    and unchecked if built, else numba's JIT."""
    from .tasks.kernels import load

    return load().for_args("seed_words", (np.zeros(1, dtype=np.int64),))


class _SeedWords(np.random.bit_generator.ISeedSequence):
    """A seed sequence that holds the four words PCG64 asks of it."""

    __slots__ = ("words",)

    def __init__(self, words: np.ndarray) -> None:
        self.words = words

    def generate_state(self, n_words: int, dtype: type = np.uint32) -> np.ndarray:
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            raise ValueError("_SeedWords holds PCG64's four 64-bit words only")
        return self.words.copy()


def child_innovations(base: tuple[int, int], index: int) -> Innovations:
    """The node ids and innovation numbers reserved for the child at ``index``: from
    ``base`` (the run's counters when the generation was bred), ``index`` blocks of
    :data:`~src.core.variation.NEW_NODES_PER_CHILD` ids and
    :data:`~src.core.variation.NEW_INNOVATIONS_PER_CHILD` numbers on."""
    return Innovations(
        base[0] + NEW_NODES_PER_CHILD * index, base[1] + NEW_INNOVATIONS_PER_CHILD * index
    )


def breed_child(
    config: WannConfig, generation: int, index: int, parent: Genome, base: tuple[int, int]
) -> Genome:
    """Child ``index`` of generation ``generation``, one mutation of ``parent``
    (``breeding = "workers"``).

    Its draws come from :func:`child_rng` and its new node ids and innovation numbers from
    its reserved block (:func:`child_innovations`), so it depends on (config, generation,
    index, parent, base) only: not on the rank that breeds it, nor on what was bred before.
    """
    innovations = child_innovations(base, index)
    first = Innovations(innovations.next_node_id, innovations.next_innovation)
    child, _ = mutate(
        parent,
        child_rng(config.seed, generation, index),
        innovations,
        config.mutation_probs,
        activation_pool(config, make_task(config)),
        config.connect_outputs,
        config.add_connection,
        config.mutation_no_op,
    )
    if (
        innovations.next_node_id - first.next_node_id > NEW_NODES_PER_CHILD
        or innovations.next_innovation - first.next_innovation > NEW_INNOVATIONS_PER_CHILD
    ):
        raise RuntimeError("a mutation took more node ids or innovations than reserved")
    return child


def rollout_slices(n_rollouts: int, pieces: int) -> list[tuple[int, int]]:
    """Cut ``range(n_rollouts)`` into ``pieces`` slices (at most one per rollout) whose
    lengths differ by at most one: ``[(start, stop), ...]`` in order."""
    pieces = max(1, min(pieces, n_rollouts))
    cuts = [n_rollouts * i // pieces for i in range(pieces + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def gather_returns(results: list[EvalResult], n_weights: int, n_reps: int) -> np.ndarray:
    """(n_genomes, n_weights, n_reps) returns of results in request order, slices joined.

    The slices of a genome come one after another and cover its rollouts in order.
    """
    n = n_weights * n_reps
    blocks: list[np.ndarray] = []  # whole items' returns, and joined slices, in order
    pieces: list[np.ndarray] = []
    covered = 0
    for res in results:
        if res.rollouts is None:
            if pieces:
                raise ValueError("a genome's slices of rollouts are incomplete")
            blocks.append(res.returns)
            continue
        lo, hi = res.rollouts
        if lo != covered:
            raise ValueError(f"slice {res.rollouts} of a genome follows rollout {covered}")
        pieces.append(res.returns[0])
        covered = hi
        if covered == n:
            blocks.append(np.concatenate(pieces).reshape(1, n_weights, n_reps))
            pieces, covered = [], 0
    if pieces:
        raise ValueError("a genome's slices of rollouts are incomplete")
    # one copy of every item's block (not a view per genome, then a stack of them)
    return np.concatenate(blocks) if blocks else np.empty((0, n_weights, n_reps))


def warm_up(config: WannConfig) -> None:
    """Build the config's task and run one tiny rollout (JIT compile or cache load) now."""
    make_task(config).warmup()


def objectives(returns: np.ndarray, connections: np.ndarray) -> np.ndarray:
    """(n, 3) objectives: mean reward, max reward (over the weights' mean returns), connections.

    A weight's score is the mean of its reps; mean reward is the mean of those scores and max
    reward the best of them. A genome with any failed (-inf) rollout has mean reward -inf.
    """
    per_weight = returns.mean(axis=2)
    return np.stack(
        [per_weight.mean(axis=1), per_weight.max(axis=1), connections.astype(np.float64)], axis=1
    )
