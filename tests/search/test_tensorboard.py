"""The TensorBoard reporter: the event files read back (TFRecord framing and CRCs checked,
events parsed with the protobuf classes tensorboardX ships) hold the search's numbers."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from tensorboardX.proto.event_pb2 import Event, SessionLog
from tensorboardX.record_writer import masked_crc32c

from src import master as cli
from src.config import build
from src.parallel import SerialExecutor
from src.search.loop import STATS_COLUMNS, initial_state, run
from src.search.tensorboard import TensorBoard


def events(logdir: Path) -> list[Event]:
    """Every event of every event file in ``logdir``, file by file in the order written (a
    file's first event, its version record, holds the time the writer opened it; the file
    names do not sort that way)."""
    files = [records(path) for path in logdir.glob("events.out.tfevents.*")]
    assert files, f"no event file in {logdir}"
    return [ev for evs in sorted(files, key=lambda evs: evs[0].wall_time) for ev in evs]


def records(path: Path) -> list[Event]:
    """The events of one file: TFRecord framing, both CRCs checked."""
    data = path.read_bytes()
    out, at = [], 0
    while at < len(data):
        header = data[at : at + 8]
        (length,) = struct.unpack("<Q", header)
        (crc,) = struct.unpack("<I", data[at + 8 : at + 12])
        assert crc == masked_crc32c(header), f"{path}: bad length CRC at {at}"
        body = data[at + 12 : at + 12 + length]
        (crc,) = struct.unpack("<I", data[at + 12 + length : at + 16 + length])
        assert crc == masked_crc32c(body), f"{path}: bad data CRC at {at}"
        out.append(Event.FromString(body))
        at += 16 + length
    assert out and out[0].file_version, f"{path}: no version record first"
    return out


def scalars(evs: list[Event]) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for ev in evs:
        for value in ev.summary.value:
            out.setdefault(value.tag, []).append((ev.step, value.simple_value))
    return out


def tiny_config(generations):
    return build(
        "swingup",
        overrides={"pop_size": 12, "seed": 5, "generations": generations},
        sets=["episode_steps=60", "champion_reps=2"],
    )


def test_events_hold_every_generation_and_a_resume_purges_what_followed(tmp_path):
    logdir = tmp_path / "tb"
    state = run(initial_state(tiny_config(3)), SerialExecutor(), [TensorBoard(logdir)])
    got = scalars(events(logdir))
    for column in STATS_COLUMNS[1:]:
        assert got[f"search/{column}"] == [
            (g, pytest.approx(np.float32(row[column]))) for g, row in enumerate(state.history)
        ], column
    scores = [v for _, v in got["champion/score"]]
    assert len(scores) == 3 and scores == sorted(scores)
    assert scores[-1] == pytest.approx(np.float32(state.best_info["champion_score"]))
    assert [s for s, _ in got["search/env_steps_per_s"]] == [0, 1, 2]

    # extended (as a resume from generation 2's checkpoint): generation 3 on, after a purge
    state.config = state.config.replace(generations=5)
    run(state, SerialExecutor(), [TensorBoard(logdir)])
    evs = events(logdir)
    starts = [ev.step for ev in evs if ev.session_log.status == SessionLog.START]
    assert starts == [3]  # TensorBoard drops earlier events with step >= 3
    assert [s for s, _ in scalars(evs)["search/best_mean"]] == [0, 1, 2, 3, 4]


def test_command_line_flag(tmp_path, capsys):
    out, logdir = tmp_path / "run", tmp_path / "tb"
    args = ["--task", "swingup", "--out", str(out), "--generations", "2", "--pop-size", "12"]
    code = cli.run_root(
        [*args, "--set", "episode_steps=60", "--tensorboard", str(logdir)], SerialExecutor()
    )
    assert code == 0, capsys.readouterr()
    assert [s for s, _ in scalars(events(logdir))["search/best_mean"]] == [0, 1]


def test_without_tensorboardx_the_flag_is_refused_before_anything_is_written(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(__import__("sys").modules, "tensorboardX", None)  # not installed
    out = tmp_path / "run"
    args = ["--task", "swingup", "--out", str(out), "--tensorboard", str(tmp_path / "tb")]
    assert cli.run_root(args, SerialExecutor()) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: TensorBoard logging needs tensorboardX: pip install")
    assert not out.exists() and not (tmp_path / "tb").exists()


@pytest.mark.parametrize("where", ["a_file", "under_a_file"])
def test_an_unwritable_logdir_is_refused_before_the_run_folder_exists(tmp_path, capsys, where):
    """A --tensorboard path that cannot take files: one line, exit 2, no run folder (which
    would then refuse the corrected command as holding a run)."""
    (tmp_path / "file").write_text("not a folder")
    logdir = tmp_path / "file" if where == "a_file" else tmp_path / "file" / "tb"
    out = tmp_path / "run"
    args = ["--task", "swingup", "--out", str(out), "--tensorboard", str(logdir)]
    assert cli.run_root(args, SerialExecutor()) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --tensorboard '{logdir}' is not a writable")
    assert not out.exists() and (tmp_path / "file").read_text() == "not a folder"


def test_a_launch_refused_for_other_input_makes_no_logdir(tmp_path, capsys):
    """The logdir is made only once the rest of the input is good: an unknown task leaves
    neither it nor the run folder."""
    logdir, out = tmp_path / "tb" / "deep", tmp_path / "run"
    args = ["--task", "nosuch", "--out", str(out), "--tensorboard", str(logdir)]
    assert cli.run_root(args, SerialExecutor()) == 2
    assert "unknown task 'nosuch'" in capsys.readouterr().err
    assert not (tmp_path / "tb").exists() and not out.exists()
