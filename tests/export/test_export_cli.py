"""``python -m src.export``: conversions, and bad input as one line, exit 2, nothing written."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
from export_genomes import CHAMPIONS, grown, grown_set, observations
from harness import launch

from src.core.network import compile_genome, forward
from src.export import __main__ as cli
from src.export import read_genome, reference

SWING = CHAMPIONS / "swing.out"


def convert(*args) -> tuple[int, str, str]:
    """The command in this process: (exit code, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def test_the_command_line_converts_a_champion_both_ways(tmp_path):
    """.out -> json -> .out and -> onnx, by the real command line."""
    js = tmp_path / "swing.json"
    proc = launch("-m", "src.export", SWING, "--task", "swingup", "--to", "json", "--out", js)
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout.strip() == f"wrote {js} (json; 29 nodes, 52 enabled connections, task swingup)"
    )
    data = json.loads(js.read_text())
    assert data["task"] == "swingup" and len(data["nodes"]) == 29
    back = tmp_path / "back.out"
    assert convert(js, "--out", back)[0] == 0  # --to from the suffix, the task from the JSON
    assert np.array_equal(
        np.isnan(np.loadtxt(back, delimiter=",")), np.isnan(np.loadtxt(SWING, delimiter=","))
    )
    model = tmp_path / "swing.onnx"
    assert convert(js, "--to", "onnx", "--out", model)[0] == 0
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    genome = read_genome(SWING, "swingup").genome
    x = observations(5)
    got = sess.run(None, {"inputs": x, "weight": np.array([0.5])})[0]
    np.testing.assert_allclose(got, forward(compile_genome(genome), x, 0.5), rtol=1e-6, atol=1e-6)


def test_json_to_json_keeps_the_scores_and_from_out_reads_any_suffix(tmp_path):
    genome = grown(5, 1, 60, seed=1)  # a swing-up network (5 inputs, 1 output)
    src = tmp_path / "best_genome.json"
    src.write_text(genome.to_json(task="swingup", generation=7, mean_reward=12.5))
    same = tmp_path / "copy.json"
    assert convert(src, "--out", same)[0] == 0
    data = json.loads(same.read_text())
    assert (data["generation"], data["mean_reward"], data["task"]) == (7, 12.5, "swingup")
    assert read_genome(same).genome == genome
    # a .out under another name: --from out
    text = tmp_path / "matrix.txt"
    text.write_text(reference.write(genome))
    code, _, err = convert(text, "--from", "out", "--task", "swingup", "--out", tmp_path / "m.json")
    assert code == 0, err
    assert read_genome(tmp_path / "m.json").genome.n_connections == genome.n_connections


def test_outputs_feeding_other_nodes_are_reported(tmp_path):
    label, genome = grown_set()[4]
    assert "outputs-as-sources" in label
    src = tmp_path / "g.json"
    src.write_text(genome.to_json())
    code, out, _ = convert(src, "--to", "out", "--out", tmp_path / "g.out")
    assert code == 0 and "written with a linear hidden copy" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([SWING, "--out", "OUT/x.json"], "does not say its task; pass --task"),
        ([SWING, "--task", "biped", "--out", "OUT/x.json"], "as a biped network (24 inputs"),
        ([SWING, "--task", "walker", "--out", "OUT/x.json"], "unknown task 'walker'"),
        (["GENOME", "--task", "biped", "--out", "OUT/x.out"], "but 'GENOME' is a 'swingup'"),
        (["PLAIN", "--task", "biped", "--out", "OUT/x.out"], "has 5 inputs and 1 outputs; a biped"),
        (["GENOME", "--out", "OUT/x.txt"], "pass --to (json, out, onnx)"),
        (["GENOME", "--to", "pdf", "--out", "OUT/x.pdf"], "invalid choice: 'pdf'"),
        (["GENOME", "--out", "OUT/none/x.out"], "does not exist"),
        (["GENOME", "--to", "out", "--out", "OUT"], "is a folder"),
        (["OUT/missing.json", "--out", "OUT/x.out"], "No such file or directory"),
        (["BROKEN", "--out", "OUT/x.out"], "cannot read genome"),
        (["BADOUT", "--task", "swingup", "--out", "OUT/x.json"], "not a comma-separated"),
        (["EMPTY", "--task", "swingup", "--out", "OUT/x.json"], "an empty file, not a matrix"),
        (["GENOME"], "the following arguments are required: --out"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, args, message):
    genome = read_genome(SWING, "swingup").genome
    files = {
        "GENOME": ("g.json", genome.to_json(task="swingup")),
        "PLAIN": ("plain.json", genome.to_json()),
        "BROKEN": ("broken.json", '{"nodes": []'),
        "BADOUT": ("bad.out", "1,2,3\n4,x,6\n"),
        "EMPTY": ("empty.out", ""),
    }
    out = tmp_path / "out"
    out.mkdir()
    names = {}
    for key, (name, text) in files.items():
        (tmp_path / name).write_text(text)
        names[key] = str(tmp_path / name)
    args = [names.get(str(a), str(a).replace("OUT", str(out))) for a in args]
    code, stdout, stderr = convert(*args)
    assert code == 2, stdout + stderr
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert message.replace("GENOME", names["GENOME"]) in stderr
    assert stdout == "" and list(out.iterdir()) == []


def test_never_overwrites_its_input_or_a_run_folders_own_files(tmp_path):
    """--out naming the genome itself, a run's config.toml or best_genome.json, or a file in
    its history/: one line, exit 2, the file as it was (a run without config.toml cannot be
    resumed)."""
    run = tmp_path / "run"
    (run / "history").mkdir(parents=True)
    genome = read_genome(SWING, "swingup").genome
    files = {
        run / "config.toml": 'run_id = "20261202T000000Z-00000000"\ntask = "swingup"\n',
        run / "best_genome.json": genome.to_json(task="swingup"),
        run / "history" / "best_gen_000001.json": genome.to_json(task="swingup"),
    }
    for path, text in files.items():
        path.write_text(text)
    source = run / "best_genome.json"
    for out, message in (
        (source, "is the genome file itself"),
        (run / "config.toml", "is a file of the run in"),
        (run / "history" / "best_gen_000001.json", "is inside the history/ of the run"),
        (run / "history" / "new.out", "is inside the history/ of the run"),
    ):
        code, stdout, stderr = convert(source, "--to", "out", "--out", out)
        assert code == 2 and stderr.count("\n") == 1 and message in stderr, stderr
    copy = tmp_path / "g.json"
    copy.write_text(files[source])
    code, _, stderr = convert(copy, "--to", "out", "--out", run / "best_genome.json")
    assert code == 2 and "is a file of the run in" in stderr
    assert all(path.read_text() == text for path, text in files.items())
    assert copy.read_text() == files[source] and not (run / "history" / "new.out").exists()
    code, _, stderr = convert(source, "--to", "out", "--out", run / "net.out")  # beside: fine
    assert code == 0, stderr


def test_a_gym_tasks_genome_exports_to_every_format(tmp_path):
    """A genome of a task outside the built-in ones (here gymnasium's CartPole, built to know
    its inputs and outputs): JSON, .out and ONNX, the ONNX model computing the same function."""
    from src.core.network import compile_genome, forward

    task = "gym:CartPole-v1"
    genome = grown(4, 2, 12, seed=5)
    source = tmp_path / "cartpole.json"
    source.write_text(genome.to_json(task=task))
    for to in ("json", "out", "onnx"):
        code, stdout, stderr = convert(source, "--to", to, "--out", tmp_path / f"c.{to}")
        assert code == 0 and f"task {task}" in stdout, stderr
    x = observations(4, seed=2)
    back = read_genome(tmp_path / "c.out", task).genome  # the same function, nodes renumbered
    np.testing.assert_allclose(
        forward(compile_genome(back), x, 0.7), forward(compile_genome(genome), x, 0.7)
    )
    assert read_genome(tmp_path / "c.json").info["task"] == task
    sess = ort.InferenceSession(str(tmp_path / "c.onnx"), providers=["CPUExecutionProvider"])
    out = sess.run(["outputs"], {"inputs": x, "weight": np.array([0.7])})[0]
    np.testing.assert_allclose(out, forward(compile_genome(genome), x, 0.7), rtol=1e-6, atol=1e-6)
    code, _, stderr = convert(source, "--task", "gym:CartPole-v0", "--out", tmp_path / "d.json")
    assert code == 2 and "but" in stderr  # its own task is checked against --task
    wrong = tmp_path / "wrong.json"  # 5 inputs and 1 output, no task of its own
    wrong.write_text(grown(5, 1, 4, seed=1).to_json())
    code, _, stderr = convert(wrong, "--task", task, "--out", tmp_path / "w.json")
    assert code == 2 and stderr.count("\n") == 1
    assert "a gym:CartPole-v1 network has 4 and 2" in stderr
