"""The champion's episodes as pictures: a short swing-up clip (GIF and MP4 read back: frame
count, size, panels that differ), and the episodes behind the pictures are the task's own."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
from harness import ROOT

from src import config as cfg
from src.core.genome import Genome, initial_genome
from src.report import video
from src.report.episodes import Net
from src.tasks import make_task

CHAMPION = ROOT / "docs" / "results" / "swingup" / "stratified_1024" / "seed_1" / "best_genome.json"


def short(task, steps):
    return cfg.build(task).replace(episode_steps=steps)


def champion():
    return Net.of(Genome.from_dict(json.loads(CHAMPION.read_text())))


def test_short_swingup_clip_has_its_frames_size_and_distinct_panels(tmp_path):
    config, net = short("swingup", 120), champion()
    weights = (-2.0, 0.5, 2.0)
    episodes = [video.record(config, net, w, 7, every=10) for w in weights]
    for e in episodes:  # steps 0, 10, ..., 120 (the episodes last: the champion balances)
        assert e.steps.tolist() == list(range(0, 121, 10)) and e.frames.shape == (13, 160, 240, 3)
        assert e.running[0] == 0.0 and e.running[-1] == e.total
    labels = [video.weight_label(w) for w in weights]
    frames = video.clip_frames(episodes, labels, cols=2)
    gif, mp4 = video.write_clip(frames, tmp_path / "clip", fps=10)
    for path in (gif, mp4):
        back = iio.imread(path)
        assert back.shape == (13, 320, 480, 3), (path.name, back.shape)  # 2 x 2 panels
    assert gif.stat().st_size < 1_000_000 and mp4.stat().st_size < 300_000
    back = iio.imread(gif)
    # the pictures inside the panels (text rows left out): the three weights moved the
    # cart-pole differently by the end, and each panel changed since the first frame
    inner = [back[:, r * 160 + 40 : r * 160 + 155, c * 240 : (c + 1) * 240] for r, c in
             ((0, 0), (0, 1), (1, 0))]  # fmt: skip
    for a in range(3):
        assert not np.array_equal(inner[a][-1], inner[a][0]), weights[a]
        for b in range(a + 1, 3):
            assert np.abs(inner[a][-1].astype(int) - inner[b][-1]).sum() > 2000, (a, b)
    assert np.all(back[-1, 170:, 480 - 240 :] >= 250)  # the fourth panel is empty


def test_swingup_running_return_is_the_tasks_return():
    config, net = short("swingup", 300), champion()
    task = make_task(config)
    returns, _ = task.rollouts(net.plan, np.array([-1.0, 1.5]), np.array([3, 3]))
    for w, expected in zip((-1.0, 1.5), returns):
        assert video.record(config, net, w, 3, every=7).total == expected


@pytest.mark.parametrize("name", ["biped", "carracing", "gym:Pendulum-v1", "gym:CartPole-v1"])
def test_gymnasium_tasks_render_the_rollout_they_score(name):
    """biped, carracing and gym:ENV_ID through gymnasium's rgb_array render: the recorded
    episode is the one the task's rollouts score (same return), pictures at the panel size."""
    config = short(name, 40)
    task = make_task(config)
    genome = initial_genome(task.n_inputs, task.n_outputs, 1.0, np.random.default_rng(1))
    net = Net.of(genome)
    returns, steps = task.rollouts(net.plan, np.array([0.5]), np.array([11]))
    e = video.record(config, net, 0.5, 11, every=10)
    assert e.total == pytest.approx(returns[0], abs=1e-9)
    assert e.steps[-1] == steps and e.frames.shape[1:] == (160, 240, 3)
    assert e.frames.std() > 10  # a picture, not a blank panel


def test_mnist_has_no_episode_to_render():
    assert not video.can_render(short("mnist256", 10))
    renderable = ("swingup", "biped", "biped-hardcore", "carracing", "gym:LunarLander-v3")
    assert all(video.can_render(short(t, 10)) for t in renderable)
