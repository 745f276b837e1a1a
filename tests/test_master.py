"""The command line: bad input is refused clearly, runs are reproducible, search improves."""

import csv
import json
import subprocess
from pathlib import Path

import pytest
from harness import ROOT, assert_same_run, launch, stats

from src import master as cli
from src.core.genome import Genome
from src.parallel import SerialExecutor


def master(*args):
    """``python -m src.master args`` in a process of its own, to its end."""
    return launch("-m", "src.master", *args, timeout=600)


def refused(capsys, *args) -> str:
    """Run the command line's root (parse, validate, claim the folder) in this process, for
    input it must refuse: exit code 2 and one line ``error: ...`` on stderr, returned.

    No process start-up (a second or so each); the signal handlers and the MPI launch check
    of ``main`` are left out (the real command line is tested with bad input below too).
    """
    try:
        code = cli.run_root(list(args), SerialExecutor())
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def read_stats(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


BAD = [
    (["--task", "pong"], "unknown task 'pong'; accepted: swingup, biped"),
    (["--task", "swingup", "--set", "colour=3"], "unknown config key 'colour'; accepted:"),
    (["--task", "swingup", "--set", "n_reps=three"], "n_reps must be an integer"),
    (["--task", "swingup", "--set", "prob_moo=1.5"], "prob_moo must be <= 1.0"),
    (["--task", "swingup", "--pop-size", "1"], "pop_size must be >= 2"),
    (["--task", "swingup", "--set", "ranking='best'"], "ranking must be one of paper, nsga3obj"),
    (["--task", "swingup", "--set", "activations=['tanh','swish']"], "unknown activation 'swish'"),
    (["--task", "swingup", "--set", "nokey"], "expected key=value"),
    (["--task", "swingup", "--force-config"], "--force-config only applies with --resume"),
    # numbers that pass a range check but break the search or the files (issue 11)
    (["--task", "swingup", "--set", "cull_ratio=nan"], "cull_ratio must be a finite number"),
    (["--task", "swingup", "--set", "prob_add_node=nan"], "prob_add_node must be a finite"),
    (["--task", "swingup", "--set", "prob_enable=inf"], "prob_enable must be a finite number"),
    (["--task", "swingup", "--set", "weights=[1.0, nan]"], "weights must be a finite number"),
    (["--task", "swingup", "--set", "weights=[-inf]"], "weights must be a finite number"),
    (
        ["--task", "swingup", "--set", "prob_add_node=1e308", "--set", "prob_enable=1e308"],
        "mutation weights must have a finite sum",
    ),
    (["--task", "swingup", "--set", "prob_add_node=1" + "0" * 400], "must be a finite number"),
    (["--task", "swingup", "--seed", str(10**23)], "seed must fit a 64-bit integer"),
    (["--task", "swingup", "--generations", str(2**63)], "generations must fit a 64-bit"),
    (["--task", "swingup", "--set", 'data_dir="a\\u0000b"'], "must not contain a NUL"),
    (["--task", "swingup", "--pop-size", "100000000"], "pop_size 100000000 needs at least"),
    (["--task", "mnist256", "--pop-size", "3000000"], "pop_size 3000000 needs at least"),
    # tasks outside the built-in ones: found out when the task is built, before any file
    (["--task", "gym:"], "unknown task 'gym:'; accepted: swingup"),
    (["--task", "gym:NoSuchEnv-v0"], "task 'gym:NoSuchEnv-v0': gymnasium cannot make"),
    (["--task", "gym:Blackjack-v1"], "observation space Tuple(Discrete(32)"),
    (["--task", "gym:CartPole-v1", "--set", "episode_steps=-1"], "episode_steps must be >= 0"),
    # a callable that is no task factory (it raises on the config)
    (["--task", "os:system"], "task 'os:system': the factory failed on the config: TypeError"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_is_one_clear_line_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    assert message in refused(capsys, *args, "--out", str(out))
    assert not out.exists()


@pytest.mark.parametrize("bad", sorted((ROOT / "tests/configs/bad").glob("*.toml")), ids=str)
def test_bad_config_files(tmp_path, capsys, bad):
    expected = bad.read_text().splitlines()[0].removeprefix("# expect: ")
    out = tmp_path / "r"
    assert expected in refused(capsys, "--task", "swingup", "--config", str(bad), "--out", str(out))
    assert not out.exists()


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe pop_size = 8\n")
    out = tmp_path / "r"
    err = refused(capsys, "--task", "swingup", "--config", str(bad), "--out", str(out))
    assert f"config file '{bad}' is not valid TOML" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (BAD[2][0], BAD[2][1]),
        (["--task", "swingup", "--config", str(ROOT / "tests/configs/bad/not_toml.toml")], None),
    ],
    ids=["set", "config"],
)
def test_the_command_line_refuses_bad_input_in_one_line_exit_2(tmp_path, args, message):
    """The tests above call the root in-process; here the real ``python -m src.master``."""
    if message is None:
        message = Path(args[-1]).read_text().splitlines()[0].removeprefix("# expect: ")
    out = tmp_path / "run"
    proc = master(*args, "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert message in proc.stderr and proc.stdout == ""
    assert not out.exists()


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert "is not writable" in refused(capsys, "--task", "swingup", "--out", str(blocker / "sub"))


def test_out_holding_a_run_is_refused(tmp_path, capsys):
    (tmp_path / "stats.csv").write_text("generation\n0\n")
    assert "already holds a run" in refused(capsys, "--task", "swingup", "--out", str(tmp_path))
    assert (tmp_path / "stats.csv").read_text() == "generation\n0\n"


def test_help_explains_keys_and_outputs():
    proc = master("--help")
    assert proc.returncode == 0
    for word in ("prob_init_enable", "tourn_size", "stats.csv", "best_genome.json", "--set"):
        assert word in proc.stdout


def test_same_seed_same_run(tmp_path):
    args = ["--task", "swingup", "--generations", "8", "--pop-size", "32", "--seed", "1"]
    for name in ("a", "b"):
        proc = master(*args, "--out", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
        lines = [line for line in proc.stdout.splitlines() if line.startswith("gen ")]
        assert [line.split(" | ")[0] for line in lines] == [f"gen {g} of 8" for g in range(8)]
        best = json.loads((tmp_path / name / "best_genome.json").read_text())
        Genome.from_dict(best)  # readable and valid
        assert best["task"] == "swingup" and "mean_reward" in best
    assert len(stats(tmp_path / "a")) == 8
    assert_same_run(tmp_path / "a", tmp_path / "b")
    for col in (
        "generation",
        "evaluations",
        "env_steps",
        "best_mean",
        "best_max",
        "median_connections",
        "seconds",
    ):
        assert col in read_stats(tmp_path / "a" / "stats.csv")[0]


@pytest.mark.slow
def test_search_improves_over_first_generations(tmp_path):
    proc = master(
        "--task",
        "swingup",
        "--generations",
        "20",
        "--pop-size",
        "64",
        "--seed",
        "2",
        "--set",
        "n_reps=2",
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    best = [float(r["best_mean"]) for r in read_stats(tmp_path / "stats.csv")]
    median = [float(r["median_mean"]) for r in read_stats(tmp_path / "stats.csv")]
    assert max(best[-5:]) > best[0] + 50
    assert sum(median[-5:]) > sum(median[:5])


def test_a_long_out_name_is_one_line(tmp_path, capsys):
    line = refused(capsys, "--task", "swingup", "--out", str(tmp_path / ("x" * 300)))
    assert "is not writable: File name too long" in line


def test_config_toml_always_reads_back(tmp_path):
    """Strings needing escapes (quote, backslash, control characters, DEL, non-ASCII) and
    floats of every form survive config.toml, and the file is a valid --config."""
    import tomllib

    text = r"a\"b\\c\u007f\t\u00e9\U0001F600 end"  # TOML escapes
    out = tmp_path / "run"
    args = ["--task", "swingup", "--pop-size", "8", "--generations", "1", "--quiet"]
    sets = ["--set", f'data_dir="{text}"', "--set", "weights=[1e-300, -2.5e+20, 3]"]
    proc = master(*args, *sets, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    values = tomllib.loads((out / "config.toml").read_text())
    assert values["data_dir"] == 'a"b\\c\x7f\t\u00e9\U0001f600 end'
    assert values["weights"] == [1e-300, -2.5e20, 3.0]
    again = tmp_path / "again"
    proc = master(*args, "--config", str(out / "config.toml"), "--out", str(again))
    assert proc.returncode == 0, proc.stderr
    assert tomllib.loads((again / "config.toml").read_text()) | {"run_id": ""} == values | {
        "run_id": ""
    }


# ----- errors found before anything is written (issue 11) -------------------------------------


def one_line(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc.stderr


def folder_bytes(run):
    return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.fixture
def unwritable():
    """``make(folder)``: this process can no longer create files in ``folder``; undone after.
    As root (CI) permissions do not stop writes, so the folder is made immutable (chattr +i:
    not even root may create, rename or delete in it); otherwise chmod 555."""
    import os
    import shutil

    undo = []

    def make(folder):
        if os.geteuid() != 0:
            folder.chmod(0o555)
            undo.append(lambda: folder.chmod(0o755))
            return
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a folder unwritable")
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i not supported here: {done.stderr.strip()}")
        undo.append(lambda: subprocess.run(["chattr", "-i", str(folder)], check=True))

    yield make
    for fn in undo:
        fn()


def test_resume_with_unwritable_checkpoints_is_refused_up_front(tmp_path, unwritable):
    """Found before the lock and before a generation ran (it used to run one, rewrite
    stats.csv, then fail on the checkpoint): one line, exit 2, nothing written."""
    run = tmp_path / "run"
    tiny = ["--task", "swingup", "--pop-size", "16", "--set", "episode_steps=100", "--quiet"]
    assert master(*tiny, "--generations", "2", "--out", str(run)).returncode == 0
    unwritable(run / "checkpoints")
    before = folder_bytes(run)
    line = one_line(master("--resume", str(run), "--generations", "4"))
    assert f"{run / 'checkpoints'} is not writable" in line and "nothing was written" in line
    assert folder_bytes(run) == before and not (run / "run.lock").exists()


def write_idx(path, arr, cut=None):
    import gzip

    import numpy as np

    arr = np.asarray(arr, dtype=np.uint8)
    magic = (2051 if arr.ndim == 3 else 2049).to_bytes(4, "big")
    data = gzip.compress(
        magic + b"".join(int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
    )
    path.write_bytes(data[:cut])


def mnist_folder(folder, n_train=60, labels_off=0):
    """The four IDX files of a tiny MNIST (blank 28x28 images, labels 0-9)."""
    import numpy as np

    folder.mkdir()
    for split, n in (("train", n_train), ("t10k", 20)):
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", np.zeros((n, 28, 28)))
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", np.arange(n + labels_off) % 10)
    return folder


def garbage(folder):
    for name in folder.iterdir():
        name.write_bytes(b"garbage\n")


def truncated(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])


def not_idx(folder):
    import gzip

    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"hello, not an IDX file"))


def fewer_labels(folder):
    import numpy as np

    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(59) % 10)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (garbage, "train-images-idx3-ubyte.gz: unreadable as gzip (Not a gzipped file"),
        (truncated, "train-images-idx3-ubyte.gz: unreadable as gzip (Compressed file ended"),
        (not_idx, "t10k-labels-idx1-ubyte.gz: not an MNIST IDX file"),
        (fewer_labels, "train-labels-idx1-ubyte.gz: (59,) labels for the 60 images"),
    ],
    ids=["garbage", "truncated", "not_idx", "fewer_labels"],
)
def test_unusable_mnist_data_is_one_line_and_writes_nothing(tmp_path, monkeypatch, damage, message):
    """Garbage MNIST .gz files given with --set data_dir=DIR used to pass (only their names
    were checked), leave config.toml behind and end in a traceback at warm-up."""
    monkeypatch.setenv("WANN_CACHE_DIR", str(tmp_path / "cache"))  # inherited by the child
    data = mnist_folder(tmp_path / "mnist")
    damage(data)
    out = tmp_path / "run"
    sets = ["--set", f"data_dir='{data}'", "--set", "batch_size=20", "--pop-size", "4"]
    line = one_line(master("--task", "mnist256", *sets, "--generations", "1", "--out", str(out)))
    assert "mnist256: unusable MNIST data: " in line and message in line
    assert not out.exists()


def test_mnist_data_damaged_before_a_resume_is_refused_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("WANN_CACHE_DIR", str(tmp_path / "cache"))
    data = mnist_folder(tmp_path / "mnist")
    out = tmp_path / "run"
    sets = ["--set", f"data_dir='{data}'", "--set", "batch_size=20", "--pop-size", "4"]
    args = ["--task", "mnist256", *sets, "--quiet"]
    assert master(*args, "--generations", "1", "--out", str(out)).returncode == 0
    garbage(data)
    before = folder_bytes(out)
    line = one_line(master("--resume", str(out), "--generations", "2"))
    assert "unusable MNIST data" in line
    assert folder_bytes(out) == before and not (out / "run.lock").exists()


def test_a_batch_larger_than_the_mnist_data_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("WANN_CACHE_DIR", str(tmp_path / "cache"))
    data = mnist_folder(tmp_path / "mnist")
    out = tmp_path / "run"
    line = one_line(master("--task", "mnist256", "--set", f"data_dir='{data}'", "--out", str(out)))
    assert "batch_size 1000 is more than the 60 training images" in line
    assert not out.exists()


def lfs_pointer(path, shipped):
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")


def truncated_copy(path, shipped):
    path.write_bytes(shipped.read_bytes()[:5000])


def wrong_shape(path, shipped):
    import numpy as np

    np.savez(path, mean=np.zeros(10), components=np.zeros((16, 10)), scale=np.ones(16))


def missing_array(path, shipped):
    import numpy as np

    np.savez(path, mean=np.zeros(2304), scale=np.ones(16))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lfs_pointer, "is unreadable (This file contains pickled"),
        (truncated_copy, "is unreadable (File is not a zip file)"),
        (wrong_shape, "mean must be (2304,) finite numbers (got shape (10,))"),
        (missing_array, "is unreadable ('components is not a file in the archive')"),
    ],
    ids=["lfs_pointer", "truncated", "wrong_shape", "missing_array"],
)
def test_a_corrupt_carracing_encoder_is_one_line_and_writes_nothing(
    tmp_path, monkeypatch, damage, message
):
    from src.tasks import carracing

    encoder = tmp_path / "encoder.npz"
    damage(encoder, carracing.ENCODER_PATH)
    monkeypatch.setenv(carracing.ENCODER_VARIABLE, str(encoder))
    out = tmp_path / "run"
    line = one_line(master("--task", "carracing", "--pop-size", "4", "--out", str(out)))
    assert f"carracing: frame encoder {str(encoder)!r}" in line and message in line
    assert "python -m src.tasks.fit_carracing_encoder" in line
    assert not out.exists()
