"""``python -m src.report.balance``: tells a swing-up controller that holds the pole up from
one that keeps it swinging, on real champions in the real gymnasium env."""

from __future__ import annotations

import json

import numpy as np
import pytest
from harness import ROOT, launch

from src.config import build
from src.export import read_genome
from src.report.balance import connection_weights, episode, measure
from src.report.episodes import Net
from src.report.writing import tuned_weights
from src.tasks import make_task

#: the authors' published champion: at its tuned shared weight (0.8) it swings the pole
#: through the top and never holds it (return ~700)
AUTHORS = ROOT / "docs" / "champions" / "swing.out"
#: a champion of the defaults before the log complexity (seed 9) that balances at w = 1
BALANCER = ROOT / "docs" / "results" / "swingup" / "starts4" / "seed_9" / "best_genome.json"


def tuned_doc(genome, weights, w_star: float) -> dict:
    """The ``wann`` entry of a tuned_weights.json as the report writes it
    (:func:`src.report.writing.tuned_weights`: ``weights[i]`` for the plan's i-th used
    connection), its connections listed in reverse order, so that a tool matching by
    position instead of by innovation number reads the wrong weights."""
    net = Net.of(genome)
    doc = tuned_weights(net, w_star, np.broadcast_to(weights, net.conns.shape))
    doc["connections"].reverse()
    return doc


def tuned_file(genome, weight: float, folder):
    """A report folder holding :func:`tuned_doc` (every connection ``weight``)."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"wann": tuned_doc(genome, weight, weight)}
    (folder / "tuned_weights.json").write_text(json.dumps(doc))
    return folder


def test_balancer_and_swinger_told_apart():
    balancer = read_genome(BALANCER).genome
    swinger = read_genome(AUTHORS, task="swingup").genome
    held = measure(balancer, tuned_doc(balancer, 1.0, 1.0), episodes=3, seed=0)
    swung = measure(swinger, tuned_doc(swinger, 0.8, 0.8), episodes=3, seed=0)
    for b in held.values():
        assert b.upright >= 0.9 and b.mean_return > 780, held
    for b in swung.values():
        assert b.upright < 0.7 and b.mean_return < 760, swung
    # every connection at w is the shared weight w: the two rows are one controller (up to
    # the rounding of w * sum against sum of w * x)
    for rows in (held, swung):
        a, b = rows["tuned shared weight"], rows["tuned weights"]
        assert a.mean_return == pytest.approx(b.mean_return, rel=1e-3), rows
        assert a.upright == pytest.approx(b.upright, abs=0.02), rows


def test_tuned_weights_reach_the_right_connections():
    """Distinct per-connection weights, listed out of order: the tool's episode (gymnasium's
    env, the numpy forward pass) equals the task's kernel rollout (glibc's activations,
    the report's edge coefficients) on the same seeds."""
    genome = read_genome(AUTHORS, task="swingup").genome
    net = Net.of(genome)
    weights = np.random.default_rng(5).uniform(0.3, 1.5, net.n_params)
    read = connection_weights(net, tuned_doc(genome, weights, 0.8))
    np.testing.assert_array_equal(read, weights)
    coef = net.edge_coef(read)
    task = make_task(build("swingup").replace(swingup_math="libm"))
    seeds = np.array([11, 12, 13])
    expected, _ = task.rollouts(net.plan, np.ones(3), seeds, coef)
    got = [episode(net.plan, 1.0, coef, s)[0] for s in seeds]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # the same weights in the genome's order of connections would be other controllers
    shuffled = net.edge_coef(weights[::-1])
    other, _ = task.rollouts(net.plan, np.ones(3), seeds, shuffled)
    assert np.abs(other - expected).max() > 1.0


def test_cli_reads_a_report_folder(tmp_path):
    genome = read_genome(BALANCER).genome
    report = tuned_file(genome, 1.0, tmp_path / "run" / "report")
    (tmp_path / "run" / "best_genome.json").write_bytes(BALANCER.read_bytes())
    proc = launch("-m", "src.report.balance", str(report), "--episodes", "2", timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all("(balances)" in line for line in lines), proc.stdout
    assert lines[0].startswith("tuned shared weight: return ")


def test_cli_bad_input_is_one_line(tmp_path):
    other = read_genome(AUTHORS, task="swingup").genome
    wrong = tuned_file(other, 0.8, tmp_path / "wrong")  # another genome's weights
    broken = {
        "null": None,
        "list": [],
        "entry": {"tuned_shared_weight": 1.0, "connections": [5]},
        "weight": {"tuned_shared_weight": 1.0, "connections": [{"innovation": 1, "weight": None}]},
    }
    cases = {
        "not this genome's": [str(wrong), "--genome", str(BALANCER)],
        "No such file": [str(tmp_path / "missing")],
        "best_genome.json": [str(wrong)],  # no genome beside it or above it
        "not a swing-up network": [
            str(wrong),
            "--genome",
            str(ROOT / "docs" / "results" / "biped" / "best_genome.json"),
        ],
        "--seed at least 0": [str(wrong), "--genome", str(BALANCER), "--seed", "-1"],
    }
    for name, wann in broken.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "tuned_weights.json").write_text(json.dumps({"wann": wann}))
        cases[f"{folder / 'tuned_weights.json'}: "] = [str(folder), "--genome", str(BALANCER)]
    for name, change in (("nan_w_star", "tuned_shared_weight"), ("inf_weight", "weight")):
        folder = tuned_file(read_genome(BALANCER).genome, 1.0, tmp_path / name)
        data = json.loads((folder / "tuned_weights.json").read_text())
        if change == "weight":
            data["wann"]["connections"][0]["weight"] = float("inf")
        else:
            data["wann"]["tuned_shared_weight"] = float("nan")
        (folder / "tuned_weights.json").write_text(json.dumps(data))  # NaN, Infinity: Python's
        cases[f"{folder / 'tuned_weights.json'}: "] = [str(folder), "--genome", str(BALANCER)]
    for needle, args in cases.items():
        proc = launch("-m", "src.report.balance", *args, timeout=120)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        err = proc.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], proc.stderr
