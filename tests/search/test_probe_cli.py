"""``python -m src.search.probe RUN``: the probe's scores of a run's networks, as a table."""

from __future__ import annotations

from src import master as cli
from src.export import read_genome
from src.parallel import SerialExecutor
from src.search import checkpoint, probe


def _run(tmp_path):
    out = tmp_path / "run"
    args = ["--task", "swingup", "--pop-size", "12", "--seed", "4", "--generations", "3"]
    args += ["--set", "episode_steps=60", "--set", "champion_reps=2", "--quiet"]
    assert cli.run_root([*args, "--out", str(out)], SerialExecutor()) == 0
    return out


def test_probe_table_scores_the_champion_and_the_last_population(tmp_path, capsys):
    run = _run(tmp_path)
    assert probe.main([str(run), "--top", "2", "--generations", "2"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [r[0] for r in rows][:1] == ["| champion"] and len(rows) == 3
    state = checkpoint.load_latest(run).state
    config = state.config.replace(start_probe_generations=2)
    # the champion's cell is tuned_score on the command line's episodes
    champion = read_genome(run / "best_genome.json").genome
    score, _ = probe.tuned_score(config, champion, probe.PROBE_GENERATION, SerialExecutor())
    assert rows[0][3] == f"{score:.0f} |"
    # the population's rows: two networks not listed above, and any better one is a copy of
    # one of them or of the champion (each network is listed once)
    picked = [int(row[0].rsplit("#", 1)[1]) for row in rows[1:]]
    keys = {state.population[i].key() for i in picked}
    assert len(keys) == 2 and champion.key() not in keys
    keys.add(champion.key())
    for row, i in zip(rows[1:], picked):
        assert row[0] == f"| gen {state.generation} #{i}"
        assert row[1] == str(state.population[i].n_connections)
        assert float(row[2]) == round(state.objectives[i, 0])
    worst = min(state.objectives[i, 0] for i in picked)
    better = [g for g, o in zip(state.population, state.objectives) if o[0] > worst]
    assert all(g.key() in keys for g in better)


def test_probe_refuses_a_folder_without_a_run(tmp_path, capsys):
    assert probe.main([str(tmp_path), "--top", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path}")


def test_probe_refuses_a_network_of_another_task(tmp_path, capsys, root):
    """A history file of another task (5 inputs here, the biped's 24) is one line, exit 2,
    before anything is probed."""
    run = _run(tmp_path)
    other = root / "docs" / "results" / "biped" / "best_genome.json"
    (run / "history" / "best_gen_000128.json").write_bytes(other.read_bytes())
    assert probe.main([str(run), "--top", "1", "--generations", "1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert "best_gen_000128: a network of 24 inputs and 4 outputs" in err


def test_probe_says_when_it_reads_an_older_checkpoint(tmp_path, capsys):
    """The newest checkpoint cut short: the probe reads the one before, says so on stderr and
    renames nothing (it only reads the folder)."""
    run = _run(tmp_path)
    newest = checkpoint.list_checkpoints(run)[-1][1]
    newest.write_bytes(newest.read_bytes()[:100])
    assert probe.main([str(run), "--top", "1", "--generations", "1"]) == 0
    out, err = capsys.readouterr()
    assert f"warning: skipped checkpoint {newest}" in err and "| gen 1 #" in out
    assert newest.exists()
