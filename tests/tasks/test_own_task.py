"""Tasks from outside src: ``--task package.module:factory`` (the example in
examples/my_task.py) and the ``wann.tasks`` entry points of installed packages."""

import json
import os

import pytest
from harness import ROOT, launch

from src.config import ConfigError, build
from src.tasks import make_task, registry
from src.tasks.registry import ENTRY_POINT_GROUP

TINY = ["--generations", "2", "--pop-size", "8", "--set", "episode_steps=30", "--quiet"]


def search(task, out, env=None):
    return launch("-m", "src.master", "--task", task, "--out", str(out), *TINY, env=env)


def test_the_example_task_runs_through_the_command_line(tmp_path):
    out = tmp_path / "run"
    proc = search("examples.my_task:build", out)  # imported from the current folder (ROOT)
    assert proc.returncode == 0, proc.stderr
    assert len((out / "stats.csv").read_text().splitlines()) == 3
    best = json.loads((out / "best_genome.json").read_text())
    assert best["task"] == "examples.my_task:build"
    assert (best["n_inputs"], best["n_outputs"]) == (3, 1)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A package installed on ``sys.path`` as pip leaves one: a ``*.dist-info`` folder whose
    ``entry_points.txt`` declares the example task as ``reach``, found by importlib.metadata."""
    site = tmp_path / "site"
    info = site / "reach_task-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: reach-task\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nreach = examples.my_task:build\nswingup = examples.my_task:build\n"
    )
    monkeypatch.syspath_prepend(str(site))
    registry.entry_points.cache_clear()
    yield site
    registry.entry_points.cache_clear()


def test_an_entry_point_is_a_task_name(installed, tmp_path):
    assert registry.kind("reach") == "entry_point"
    assert registry.kind("swingup") == "builtin"  # a built-in name is never shadowed
    assert "reach" in registry.accepted() and "reach " in registry.describe()
    task = make_task(build("reach", sets=["episode_steps=10"]))
    assert (task.name, task.n_inputs, task.episode_steps) == ("reach", 3, 10)
    out = tmp_path / "run"
    proc = search("reach", out, env={"PYTHONPATH": f"{ROOT}{os.pathsep}{installed}"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "best_genome.json").read_text())["task"] == "reach"


def test_without_the_package_the_name_is_unknown():
    with pytest.raises(ConfigError, match="unknown task 'reach'.*wann.tasks entry point"):
        build("reach")


BAD_MODULE = """
from src.tasks import Task

def not_a_task(config):
    return 3

class NoInputs(Task):
    n_inputs, n_outputs = 0, 1
    def rollouts(self, plan, weights, seeds, edge_coef=None):
        raise AssertionError

def no_inputs(config):
    return NoInputs()
"""


@pytest.mark.parametrize(
    "task, message",
    [
        ("no_such_package.tasks:build", "cannot import 'no_such_package.tasks'"),
        ("examples.my_task:missing", "examples.my_task has no function 'missing'"),
        ("bad_tasks:not_a_task", "the factory returned int, not a src.tasks.Task"),
        ("bad_tasks:no_inputs", "n_inputs must be a positive integer, got 0"),
    ],
)
def test_a_task_that_cannot_be_built_is_one_config_error(tmp_path, monkeypatch, task, message):
    (tmp_path / "bad_tasks.py").write_text(BAD_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match=message):
        make_task.__wrapped__(build(task))


def test_a_factory_that_raises_is_one_error_naming_where(tmp_path, monkeypatch):
    """A bug in a user's factory: a ConfigError (one line on the command line) with the
    exception and the file and line it came from, not a traceback through make_task."""
    (tmp_path / "buggy_task.py").write_text("def build(config):\n    return [][1]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as info:
        make_task(build("buggy_task:build"))
    message = str(info.value)
    assert "task 'buggy_task:build': the factory failed on the config: IndexError" in message
    assert f"at {tmp_path / 'buggy_task.py'}:2" in message and "\n" not in message
