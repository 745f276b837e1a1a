"""CarRacing task: the shipped encoder, identical frames, action mapping, determinism, smoke."""

import json
import warnings

import numpy as np
import pytest
from harness import launch

from src.config import ConfigError
from src.tasks import carracing as cr_task

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from gymnasium.envs.box2d.car_racing import CarRacing


def test_shipped_encoder_is_small_and_maps_frames_to_16_features():
    path = cr_task.ENCODER_PATH
    assert path.is_file() and path.stat().st_size < 1_000_000
    enc = cr_task.Encoder.load(path)
    assert enc.components.shape == (16, 48 * 48) and enc.scale.shape == (16,)
    np.testing.assert_allclose(enc.components @ enc.components.T, np.eye(16), atol=1e-5)
    env = cr_task.FastCarRacing()
    env.reset(seed=3)
    frames = np.stack([env.step(np.array([0.0, 0.5, 0.0]))[0] for _ in range(80)])
    feats = enc.encode(frames)
    assert feats.shape == (80, 16) and np.isfinite(feats).all()
    assert np.abs(feats[60:]).max() < 20  # on the scale of the fitting frames (unit variance)
    # 16 features keep most of a frame: reconstruction beats the mean frame by far
    pixels = cr_task.frame_pixels(frames[60:])
    err = ((enc.decode(feats[60:]) - pixels) ** 2).mean()
    assert err < 0.5 * ((pixels - enc.mean) ** 2).mean()


def test_missing_encoder_names_the_fitting_command(tmp_path):
    with pytest.raises(ConfigError, match="python -m src.tasks.fit_carracing_encoder"):
        cr_task.Encoder.load(tmp_path / "none.npz")


def test_fast_env_draws_the_same_frames_as_gymnasium():
    rng = np.random.default_rng(0)
    actions = np.stack([rng.uniform(-1, 1, 70), rng.uniform(0, 1, 70), np.zeros(70)], axis=1)
    runs = []
    for env in (CarRacing(), cr_task.FastCarRacing()):
        frames = [env.reset(seed=11)[0]]
        rewards = []
        for a in actions:  # the first 50 frames zoom in: nearly every polygon is on screen
            obs, r, *_ = env.step(a)
            frames.append(obs)
            rewards.append(r)
        runs.append((np.stack(frames), rewards))
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


def test_actions_are_mapped_as_in_the_spec():
    out = np.array([[-3.0, -3.0, -1.0], [0.5, 0.0, 0.25], [3.0, 3.0, 3.0]])
    np.testing.assert_allclose(
        cr_task.actions_of(out), [[-1.0, 0.0, 0.0], [0.5, 0.5, 0.25], [1.0, 1.0, 1.0]]
    )


def test_fit_script_writes_an_encoder(tmp_path):
    out = tmp_path / "enc.npz"
    proc = launch(
        "-m",
        "src.tasks.fit_carracing_encoder",
        "--frames",
        "24",
        "--stride",
        "1",
        "--out",
        out,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "16 components explain" in proc.stdout
    enc = cr_task.Encoder.load(out)
    assert enc.components.shape == (16, 48 * 48)


def test_smoke_search(tmp_path):
    out = tmp_path / "run"
    args = ["--task", "carracing", "--out", str(out), "--generations", "2", "--pop-size", "8"]
    proc = launch(
        "-m", "src.master", *args, "--set", "episode_steps=4", "--set", "n_reps=1", "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    rows = (out / "stats.csv").read_text().splitlines()
    assert len(rows) == 3
    best = json.loads((out / "best_genome.json").read_text())
    assert best["task"] == "carracing" and best["n_inputs"] == 16 and best["n_outputs"] == 3
