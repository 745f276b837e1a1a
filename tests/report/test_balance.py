"""``python -m src.report.balance``: tells a swing-up controller that holds the pole up from
one that keeps it swinging, on real champions in the real gymnasium env."""

from __future__ import annotations

import json

import pytest
from harness import ROOT, launch

from src.export import read_genome
from src.report.balance import measure

#: the authors' published champion: at its tuned shared weight (0.8) it swings the pole
#: through the top and never holds it (return ~700)
AUTHORS = ROOT / "docs" / "champions" / "swing.out"
#: a champion of this project's defaults (seed 9) that balances at w = 1
BALANCER = ROOT / "docs" / "results" / "swingup" / "seed_9" / "best_genome.json"


def tuned_doc(genome, weight: float) -> dict:
    """The ``wann`` entry of a tuned_weights.json giving every enabled connection ``weight``,
    listed in reverse order (the tool must match connections by innovation, not position)."""
    conns = [
        {
            "source": int(genome.conn_src[c]),
            "destination": int(genome.conn_dst[c]),
            "innovation": int(genome.conn_innov[c]),
            "weight": weight,
        }
        for c in range(len(genome.conn_src))
        if genome.conn_enabled[c]
    ]
    return {"tuned_shared_weight": weight, "trained_from": weight, "connections": conns[::-1]}


def tuned_file(genome, weight: float, folder):
    """A report folder holding :func:`tuned_doc` as its tuned_weights.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tuned_weights.json").write_text(json.dumps({"wann": tuned_doc(genome, weight)}))
    return folder


def test_balancer_and_swinger_told_apart():
    balancer = read_genome(BALANCER).genome
    swinger = read_genome(AUTHORS, task="swingup").genome
    held = measure(balancer, tuned_doc(balancer, 1.0), episodes=3, seed=0)
    swung = measure(swinger, tuned_doc(swinger, 0.8), episodes=3, seed=0)
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


def test_cli_reads_a_report_folder(tmp_path):
    genome = read_genome(BALANCER).genome
    report = tuned_file(genome, 1.0, tmp_path / "report")
    proc = launch(
        "-m",
        "src.report.balance",
        str(report),
        "--genome",
        str(BALANCER),
        "--episodes",
        "2",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and all("(balances)" in line for line in lines), proc.stdout
    assert lines[0].startswith("tuned shared weight: return ")


def test_cli_bad_input_is_one_line(tmp_path):
    other = read_genome(AUTHORS, task="swingup").genome
    wrong = tuned_file(other, 0.8, tmp_path / "wrong")  # another genome's weights
    cases = {
        "not this genome's report": [str(wrong), "--genome", str(BALANCER)],
        "No such file": [str(tmp_path / "missing")],
        "best_genome.json": [str(wrong)],  # no run folder around the report folder
        "not a swing-up network": [
            str(wrong),
            "--genome",
            str(ROOT / "docs" / "results" / "biped" / "best_genome.json"),
        ],
    }
    for needle, args in cases.items():
        proc = launch("-m", "src.report.balance", *args, timeout=120)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        err = proc.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], proc.stderr
