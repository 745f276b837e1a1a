"""The checkpoint file: complete round trip, schema readable without our code, atomic writes,
pruning, and clear refusals of damaged or foreign files."""

from __future__ import annotations

import json
import shutil
import subprocess

import h5py
import numpy as np
import pytest
from ckpt_helpers import require_program

from src import config as cfg
from src.parallel import SerialExecutor
from src.search import checkpoint, loop, reporters

pytestmark = pytest.mark.checkpoint


def evolved_state(tmp_path, generations=3, **changes):
    """A state after ``generations`` evaluated generations of a tiny swing-up search."""
    config = cfg.build(
        "swingup",
        overrides={"pop_size": 16, "generations": generations, "seed": 7, **changes},
        sets=["episode_steps=100"],
    )
    out = tmp_path / "reporter"
    out.mkdir(exist_ok=True)
    state = loop.initial_state(config)
    return loop.run(state, SerialExecutor(), [reporters.StatsFiles(out)])


@pytest.fixture
def state(tmp_path):
    return evolved_state(tmp_path)


def test_round_trip_restores_everything(tmp_path, state):
    path = checkpoint.save(state, tmp_path / "run")
    assert path == tmp_path / "run" / "checkpoints" / "gen_000002.h5"
    back = checkpoint.load(path)
    assert back.config == state.config
    assert back.generation == state.generation == 2
    assert back.population == state.population
    assert back.objectives.dtype == np.float64
    assert np.array_equal(back.objectives, state.objectives)
    assert back.rng.bit_generator.state == state.rng.bit_generator.state
    assert back.innovations == state.innovations
    assert back.history == state.history
    assert [type(v) for v in back.history[0].values()] == [
        type(v) for v in state.history[0].values()
    ]
    assert back.best == state.best and back.best_info == state.best_info
    assert list(back.best_info) == list(state.best_info)
    # the restored generator continues the same stream
    assert np.array_equal(back.rng.random(5), state.rng.random(5))


def test_resumed_state_breeds_the_same_next_population(tmp_path, state):
    back = checkpoint.load(checkpoint.save(state, tmp_path))
    assert loop.next_population(back) == loop.next_population(state)
    assert back.innovations == state.innovations


def test_schema_is_readable_with_plain_h5py(tmp_path, state):
    path = checkpoint.save(state, tmp_path)
    n = len(state.population)
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "wann-checkpoint"
        assert f.attrs["format_version"] == 2
        assert f.attrs["generation"] == 2
        assert f.attrs["task"] == "swingup"
        assert json.loads(f.attrs["config_json"]) == json.loads(json.dumps(state.config.to_dict()))
        assert f["config"].attrs["pop_size"] == 16
        assert f["config"].attrs["ranking"] == "paper"
        assert list(f["config"].attrs["weights"]) == list(state.config.weights)
        assert json.loads(f.attrs["rng_state_json"])["bit_generator"] == "PCG64"
        objectives = f["objectives"][()]
        assert objectives.shape == (n, 3)
        assert f["objectives"].attrs["columns"] == "mean_reward, max_reward, connections"
        assert np.array_equal(objectives[:, 2], [g.n_connections for g in state.population])
        assert f["population/node_offsets"].shape == (n + 1,)
        # the connections of genome 3, rebuilt with numpy from the documented datasets
        co, eo = f["population/conn_offsets"][()], f["population/conn_extra_offsets"][()]
        shared, extra = f["population/conn_shared"][()], f["population/conn_extra_gene"][()]
        bits = np.unpackbits(f["population/conn_enabled_bits"][()], count=co[-1])
        rows = f["genes"][()][np.r_[np.arange(shared[3]), extra[eo[3] : eo[4]]]]
        g = state.population[3]
        assert np.array_equal(rows[:, 0], g.conn_innov)
        assert np.array_equal(rows[:, 1], g.conn_src) and np.array_equal(rows[:, 2], g.conn_dst)
        assert np.array_equal(bits[co[3] : co[4]].astype(bool), g.conn_enabled)
        nodes = f["population/nodes"][()]
        no = f["population/node_offsets"][()]
        assert np.array_equal(nodes[no[3] : no[4], 0], g.node_id)
        assert list(f["history/generation"][()]) == [0, 1, 2]
        assert f["history/best_mean"].dtype == np.float64
        assert json.loads(f["best"].attrs["info_json"]) == state.best_info


def test_h5dump_reads_the_file(tmp_path, state):
    require_program("h5dump")
    path = checkpoint.save(state, tmp_path)
    out = subprocess.run(
        ["h5dump", "-a", "/format", "-a", "/config/pop_size", "-d", "/objectives", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"wann-checkpoint"' in out and "16" in out and "DATASPACE  SIMPLE { ( 16, 3 )" in out


@pytest.mark.parametrize("n_in", [5, 256])
def test_population_encoding_round_trips_diverse_genomes(n_in):
    """Grown genomes of many sizes (hidden nodes, added and re-enabled connections)."""
    from src.core import activations
    from src.core.genome import Innovations, initial_genome
    from src.core.variation import mutate

    rng = np.random.default_rng(n_in)
    innovations = Innovations.start(n_in, 3)  # run-wide, as in a search
    genomes = []
    for m in range(0, 60, 3):
        g = initial_genome(n_in, 3, 0.5, rng)
        for _ in range(m):
            g, _ = mutate(g, rng, innovations, (0.2, 0.25, 0.05, 0.5), activations.CONTROL_POOL)
        genomes.append(g)
    arrays = checkpoint.encode_population(genomes)
    assert arrays["genes"][:, 0].tolist() == sorted(set(arrays["genes"][:, 0].tolist()))
    assert (arrays["conn_shared"] == (1 + n_in) * 3).all()
    assert checkpoint.decode_population(arrays) == genomes
    assert checkpoint.decode_population(checkpoint.encode_population(genomes[:1])) == genomes[:1]


def test_population_at_960_is_stored_compactly(tmp_path):
    """MNIST-256 sized population: 3.5 MB, not the 85 MB of int64 rows (``genome.pack``)."""
    config = cfg.build("mnist256", overrides={"pop_size": 960, "generations": 2})
    state = loop.initial_state(config)
    state.objectives = np.zeros((960, 3))
    path = checkpoint.save(state, tmp_path)
    assert path.stat().st_size < 6e6
    assert checkpoint.load(path).population == state.population


def test_writes_are_atomic_and_pruned_to_keep_checkpoints(tmp_path):
    state = evolved_state(tmp_path, generations=1, keep_checkpoints=2)
    run = tmp_path / "run"
    for g in range(5):
        state.generation = g
        checkpoint.save(state, run)
        names = sorted(p.name for p in (run / "checkpoints").iterdir())
        assert names == [f"gen_{i:06d}.h5" for i in range(max(0, g - 1), g + 1)]
    assert [g for g, _ in checkpoint.list_checkpoints(run)] == [3, 4]


def test_a_lost_lock_leaves_every_file_of_the_folder_as_it_was(tmp_path):
    """The guard (the run lock's check) runs before pruning or moving anything: a folder that
    another process took over keeps its checkpoints, even those this run would prune."""
    from src.search.runlock import RunLockError

    state = evolved_state(tmp_path, generations=1, keep_checkpoints=2)
    run = tmp_path / "run"
    for g in range(2):
        state.generation = g
        checkpoint.save(state, run, "mine")
    before = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}

    def lost() -> None:
        raise RunLockError("this run lost its lock")

    state.generation = 2  # would prune gen 0 first (keep_checkpoints - 1 older kept)
    with pytest.raises(RunLockError):
        checkpoint.save(state, run, "mine", guard=lost)
    after = {p.name: p.read_bytes() for p in (run / "checkpoints").iterdir()}
    assert after == before and sorted(before) == ["gen_000000.h5", "gen_000001.h5"]


def test_newest_truncated_falls_back_to_previous(tmp_path, state):
    run = tmp_path / "run"
    checkpoint.save(state, run)
    state.generation = 3
    newest = checkpoint.save(state, run)
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])
    loaded = checkpoint.load_latest(run)
    assert loaded.path.name == "gen_000002.h5"
    assert [(p.name, kind) for p, _, kind in loaded.skipped] == [("gen_000003.h5", "corrupt")]
    assert loaded.state.generation == 2


@pytest.mark.parametrize("damage", ["empty", "flipped_value", "no_digest_match"])
def test_damaged_checkpoints_are_detected(tmp_path, state, damage):
    path = checkpoint.save(state, tmp_path)
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "flipped_value":
        with h5py.File(path, "r+") as f:
            f["objectives"][0, 0] += 1.0
    else:
        with h5py.File(path, "r+") as f:
            f.attrs["digest"] = "0" * 32
    with pytest.raises(checkpoint.CorruptCheckpoint):
        checkpoint.load(path)


def test_foreign_files_are_refused(tmp_path, state):
    text = tmp_path / "gen_000001.h5"
    text.write_text("hello, I am not HDF5 at all\n")
    with pytest.raises(checkpoint.CorruptCheckpoint, match="no HDF5 signature"):
        checkpoint.load(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(checkpoint.NotACheckpoint, match="not a checkpoint"):
        checkpoint.load(other)
    future = checkpoint.save(state, tmp_path / "run", "run-a")
    with h5py.File(future, "r+") as f:
        f.attrs["format_version"] = 3
    with pytest.raises(checkpoint.NotACheckpoint, match="format_version 3"):
        checkpoint.load(future)
    # this run's file in a newer format stops load_latest (falling back would lose progress)
    with pytest.raises(checkpoint.NotACheckpoint, match="gen_000002.h5: format_version 3"):
        checkpoint.load_latest(tmp_path / "run", "run-a")
    # ... another run's is skipped like any file that is not this run's
    loaded_error = pytest.raises(checkpoint.CheckpointError, match="no usable checkpoint of run b")
    with loaded_error:
        checkpoint.load_latest(tmp_path / "run", "b")
    # foreign and non-HDF5 newest files are skipped, and named
    run = tmp_path / "run2"
    checkpoint.save(state, run, "run-a")
    shutil.copy(text, run / "checkpoints" / "gen_000009.h5")
    shutil.copy(other, run / "checkpoints" / "gen_000008.h5")
    loaded = checkpoint.load_latest(run, "run-a")
    assert loaded.path.name == "gen_000002.h5" and loaded.run_id == "run-a"
    assert [(p.name, kind) for p, _, kind in loaded.skipped] == [
        ("gen_000009.h5", "corrupt"),
        ("gen_000008.h5", "foreign"),
    ]


def test_no_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="no checkpoint in"):
        checkpoint.load_latest(tmp_path)


def test_leftover_temporary_files_are_ignored_and_removed(tmp_path, state):
    run = tmp_path / "run"
    checkpoint.save(state, run)
    leftover = run / "checkpoints" / ".gen_000003.h5.tmp12345"
    leftover.write_bytes(b"\x89HDF\r\n\x1a\npartial")
    assert checkpoint.load_latest(run).path.name == "gen_000002.h5"
    assert checkpoint.remove_temporaries(run) == [leftover]
    assert not leftover.exists()


def _flip_digit(text: str) -> str:
    """``text`` with its last digit changed (a one-character corruption)."""
    i = max(i for i, c in enumerate(text) if c.isdigit())
    return text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :]


@pytest.mark.parametrize(
    ("where", "name"),
    [
        ("/", "rng_state_json"),
        ("/", "config_json"),
        ("/", "next_innovation"),
        ("/", "next_node_id"),
        ("/", "generation"),
        ("/", "run_id"),
        ("/", "task"),
        ("/config", "pop_size"),
        ("/best", "info_json"),
        ("/history", "columns"),
    ],
)
def test_digest_covers_every_attribute_resume_reads(tmp_path, state, where, name):
    """A one-digit change of any attribute is caught like a flipped bit in a dataset."""
    path = checkpoint.save(state, tmp_path, "run-a")
    with h5py.File(path, "r+") as f:
        value = f[where].attrs[name]
        if isinstance(value, str) and any(c.isdigit() for c in value):
            f[where].attrs[name] = _flip_digit(value)
        elif isinstance(value, str):
            f[where].attrs[name] = value + "x"
        else:
            f[where].attrs[name] = value + 1
    with pytest.raises(checkpoint.CorruptCheckpoint, match="do not match the digest"):
        checkpoint.load(path)


def test_an_added_attribute_or_dataset_breaks_the_digest(tmp_path, state):
    path = checkpoint.save(state, tmp_path)
    with h5py.File(path, "r+") as f:
        f["objectives"].attrs["note"] = "edited"
    with pytest.raises(checkpoint.CorruptCheckpoint, match="digest"):
        checkpoint.load(path)
