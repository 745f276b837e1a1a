"""The champion's episodes as pictures that move: one clip (GIF and MP4) and frames for the page.

:func:`record` plays one episode of a network at one shared weight and keeps every
``every``-th frame with the return so far:

* swing-up: the compiled kernel's own rollout, its states recorded
  (:meth:`src.tasks.swingup.SwingUp.trajectory`), drawn here with Pillow
  (:func:`draw_cartpole`), so the running return ends exactly on the return the report's
  episodes give;
* tasks stepped in lockstep (biped, biped-hardcore, carracing, ``gym:ENV_ID`` and a task of
  your own on :class:`src.tasks.lockstep.LockstepTask`) whose ``render_env()`` gives an env
  with gymnasium's ``rgb_array`` render: stepped exactly as the task steps it (its reset,
  observe, actions and step, the same network kernel), so the rewards are the rollout's;
* other tasks (MNIST, a gym env without ``rgb_array``) have no episode to show:
  :func:`can_render` is False.

:func:`clip_frames` puts several episodes side by side, a grid of panels with the weight and
the running return written on each; :func:`write_clip` writes it as GIF (Pillow, through
imageio) and MP4 (H.264, through imageio-ffmpeg's ffmpeg binary). Every episode of one
report starts from the same seed (the report seed's ``video`` stream), so the panels differ
by the shared weight only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..config import WannConfig
from ..tasks import make_task
from .episodes import Net

#: Panel size (width, height) in pixels: 3:2, as the envs' own 600 x 400 renders.
PANEL = (240, 160)


def can_render(config: WannConfig) -> bool:
    """Whether :func:`record` can show an episode of ``config``'s task."""
    from ..tasks.lockstep import LockstepTask

    if config.task == "swingup":
        return True
    task = make_task(config)
    if not isinstance(task, LockstepTask):
        return False
    env = task.render_env()
    if env is None:
        return False
    env.close()
    return True


@dataclass(frozen=True)
class Episode:
    """One episode, subsampled.

    Attributes:
        weight: the shared weight.
        frames: (k, h, w, 3) uint8 pictures at the steps ``steps``.
        steps: (k,) environment step each frame shows (0: the initial state; the last frame
            is always the episode's end).
        running: (k,) return so far at each frame (-inf once the network gave NaN/inf).
        total: the episode's return.
    """

    weight: float
    frames: np.ndarray
    steps: np.ndarray
    running: np.ndarray
    total: float


def frame_steps(n_steps: int, every: int) -> np.ndarray:
    """Steps 0, every, 2 every, ... and always the last one ``n_steps``."""
    steps = np.arange(0, n_steps + 1, max(1, every))
    return steps if steps[-1] == n_steps else np.append(steps, n_steps)


def _running(rewards: np.ndarray, steps: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        cum = np.concatenate([[0.0], np.cumsum(rewards)])
    return cum[np.minimum(steps, len(rewards))]


# ----- swing-up ---------------------------------------------------------------------------------


def draw_cartpole(state: np.ndarray, size: tuple[int, int] = PANEL) -> np.ndarray:
    """(h, w, 3) uint8 picture of a cart-pole state (x, x_dot, theta, theta_dot).

    The layout and colours of ``envs.swingup``'s renderer (track over 80 % of the width, red
    limits, grey cart, brown pole, blue axle; theta = 0 is upright), drawn with Pillow at
    any size.
    """
    from envs import swingup as env

    w, h = size
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    scale = w / (2.0 * env.X_LIMIT * 1.25)
    track = h * 0.65

    def col(x: float) -> float:
        return w / 2.0 + x * scale

    d.line([(col(-env.X_LIMIT), track), (col(env.X_LIMIT), track)], fill=(0, 0, 0), width=1)
    for lim in (-env.X_LIMIT, env.X_LIMIT):
        d.line([(col(lim), track - 0.08 * h), (col(lim), track + 0.08 * h)], (200, 0, 0), 2)
    x, theta = float(state[0]), float(state[2])
    cx, hw, hh = col(x), 0.25 * scale, 0.125 * scale
    d.rectangle([cx - hw, track - hh, cx + hw, track + hh], fill=(60, 60, 60))
    px, py = cx, track - hh
    tx = px - env.POLE_LENGTH * math.sin(theta) * scale
    ty = py - env.POLE_LENGTH * math.cos(theta) * scale
    d.line([(px, py), (tx, ty)], fill=(204, 153, 102), width=max(2, round(0.08 * scale)))
    r = max(1.5, 0.03 * scale)
    d.ellipse([px - r, py - r, px + r, py + r], fill=(127, 127, 204))
    return np.asarray(img)


def _record_swingup(
    config: WannConfig, net: Net, weight: float, seed: int, every: int, size: tuple[int, int]
) -> Episode:
    task = make_task(config)
    states, rewards = task.trajectory(net.plan, weight, seed)
    n = len(rewards)
    steps = frame_steps(n, every)
    frames = np.stack([draw_cartpole(states[min(s, len(states) - 1)], size) for s in steps])
    total = float(np.cumsum(rewards)[-1]) if n else 0.0
    return Episode(float(weight), frames, steps, _running(rewards, steps), total)


# ----- gymnasium's renderers (tasks stepped in lockstep) ----------------------------------


def _resize(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))


def _record_gym(
    config: WannConfig, net: Net, weight: float, seed: int, every: int, size: tuple[int, int]
) -> Episode:
    """One rollout of :func:`src.tasks.lockstep.run` with a rendering env: the task's own
    reset, observe, actions and step, so the rewards are those of its rollouts."""
    from ..tasks import kernels

    forward_rows = kernels.load().forward_rows
    task = make_task(config)
    plan = net.plan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pygame/Box2D deprecation notices
        env = task.render_env()
    try:
        obs = np.asarray(task.reset(env, int(seed)))[None]
        values = np.zeros((1, plan.n_nodes))
        out = np.empty((1, task.n_outputs))
        rows, ws = np.zeros(1, dtype=np.int64), np.array([float(weight)])
        coef = np.ones(plan.n_edges)
        args = (plan.order, plan.act, plan.indptr, plan.indices, coef, plan.output_slots)
        frames, kept, rewards = [_resize(env.render(), size)], [0], []
        for t in range(1, task.episode_steps + 1):
            inputs = np.asarray(task.observe(obs), dtype=np.float64)
            finite = forward_rows(values, inputs, rows, ws, *args, out, task.clip_outputs)
            if not finite[0]:
                rewards.append(-math.inf)
                break
            o, reward, done = task.step(env, task.actions(out)[0])
            obs = np.asarray(o)[None]
            rewards.append(float(reward))
            if t % every == 0 or done or t == task.episode_steps:
                frames.append(_resize(env.render(), size))
                kept.append(t)
            if done:
                break
        if kept[-1] != len(rewards):  # ended by a NaN/inf output: where it stopped, -inf
            frames.append(_resize(env.render(), size))
            kept.append(len(rewards))
    finally:
        env.close()
    rewards_arr = np.asarray(rewards, dtype=np.float64)
    steps = np.asarray(kept)
    running = _running(rewards_arr, steps)
    total = float(np.cumsum(rewards_arr)[-1]) if len(rewards_arr) else 0.0
    return Episode(float(weight), np.stack(frames), steps, running, total)


def record(
    config: WannConfig,
    net: Net,
    weight: float,
    seed: int,
    every: int = 10,
    size: tuple[int, int] = PANEL,
) -> Episode:
    """One episode of ``net`` at shared ``weight`` from ``seed``, every ``every``-th step."""
    if not can_render(config):
        raise ValueError(f"task {config.task!r} has no episode to render")
    if config.task == "swingup":
        return _record_swingup(config, net, weight, seed, every, size)
    return _record_gym(config, net, weight, seed, every, size)


# ----- the clip ---------------------------------------------------------------------------


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size)


def _label(d: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, fill, font) -> None:
    """Text on a white box, readable over any picture (car racing's dashboard, the sky)."""
    left, top, right, bottom = d.textbbox(xy, text, font=font)
    d.rectangle([left - 2, top - 1, right + 2, bottom + 1], fill=(255, 255, 255))
    d.text(xy, text, fill=fill, font=font)


def weight_label(weight: float, tuned: bool = False) -> str:
    return f"w* = {weight:+.2f}" if tuned else f"w = {weight:+g}"


def return_label(value: float) -> str:
    return "return -inf (NaN output)" if value == -math.inf else f"return {value:7.1f}"


def clip_frames(
    episodes: Sequence[Episode], labels: Sequence[str], cols: int = 4, every: int = 1
) -> np.ndarray:
    """(t, H, W, 3) uint8 frames: one panel per episode on a grid of ``cols`` columns, each
    labelled (top left) with its ``labels`` entry and, below it, the return so far.

    Frame ``t`` shows each episode's ``t * every``-th recorded frame; an episode that has
    ended holds its last picture, marked "ended". H and W are multiples of 16 (H.264).
    """
    h, w = episodes[0].frames.shape[1:3]
    cols = max(1, min(cols, len(episodes)))
    rows = -(-len(episodes) // cols)
    height, width = -(-rows * h // 16) * 16, -(-cols * w // 16) * 16
    n = max(-(-len(e.frames) // every) for e in episodes)
    font = _font(max(10, h // 12))
    out = np.full((n, height, width, 3), 255, dtype=np.uint8)
    for k, (ep, label) in enumerate(zip(episodes, labels)):
        r, c = divmod(k, cols)
        for t in range(n):
            i = min(t * every, len(ep.frames) - 1)
            img = Image.fromarray(ep.frames[i])
            d = ImageDraw.Draw(img)
            text = return_label(float(ep.running[i]))
            if i == len(ep.frames) - 1 and t * every > i:
                text += f" (ended, step {int(ep.steps[i])})"
            _label(d, (4, 2), label, (0, 0, 0), font)
            _label(d, (4, 6 + font.size), text, (0, 0, 160), font)
            d.rectangle([0, 0, w - 1, h - 1], outline=(200, 200, 200))
            out[t, r * h : (r + 1) * h, c * w : (c + 1) * w] = np.asarray(img)
    return out


def write_gif(frames: np.ndarray, path: Path, fps: float = 10.0) -> Path:
    """A looping GIF of the frames, all on one 255-colour palette taken from a sample of them.

    Pillow directly rather than through imageio: imageio's GIF writer quantises every frame
    on its own palette, six times slower here and with colours that flicker between frames.
    """
    sample = frames[:: max(1, len(frames) // 8)]
    palette = Image.fromarray(np.concatenate(list(sample), axis=0)).quantize(
        colors=255, method=Image.Quantize.MEDIANCUT
    )
    images = [
        Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames
    ]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0
    )
    return path


def write_mp4(frames: np.ndarray, path: Path, fps: float = 10.0) -> Path:
    """An H.264 MP4 (yuv420p, plays in browsers) through imageio-ffmpeg's ffmpeg binary."""
    import imageio.v2 as imageio

    with imageio.get_writer(
        path,
        format="FFMPEG",
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        macro_block_size=16,
        ffmpeg_log_level="error",
        output_params=["-crf", "28"],
    ) as writer:
        for frame in frames:
            writer.append_data(frame)
    return path


def write_clip(frames: np.ndarray, stem: Path, fps: float = 10.0) -> tuple[Path, Path]:
    """``stem.gif`` and ``stem.mp4`` of the frames; returns both paths."""
    return (
        write_gif(frames, stem.with_suffix(".gif"), fps),
        write_mp4(frames, stem.with_suffix(".mp4"), fps),
    )


# ----- what the report renders ------------------------------------------------------------


@dataclass(frozen=True)
class VideoOptions:
    """What the report renders (``python -m src.report``; ``--no-video`` renders nothing).

    Attributes:
        clip_frames: frames of the clip: an episode is shown every ``ceil(steps /
            clip_frames)``-th step.
        fps: frames per second of the clip (and of the page's player).
        page_weights: points of the page's weight grid over [-2, 2] (0 left out, as in the
            sweep); the tuned shared weight is added.
        page_frames: at most this many frames per weight on the page.
        panel: (width, height) of one episode's picture.
    """

    clip_frames: int = 100
    fps: float = 10.0
    page_weights: int = 17
    page_frames: int = 50
    panel: tuple[int, int] = PANEL


@dataclass(frozen=True)
class Movies:
    """The episodes the report rendered.

    Attributes:
        clip: the clip's episodes (the search's weights, then w*), in panel order.
        clip_labels: each panel's label.
        page: the page's episodes, by ascending weight (the grid and w*).
        page_every: the page shows every ``page_every``-th recorded frame.
        tuned: w*, or None.
        files: the clip's files (GIF, MP4).
    """

    clip: list[Episode]
    clip_labels: list[str]
    page: list[Episode]
    page_every: int
    tuned: float | None
    files: tuple[Path, Path]


def page_grid(n_points: int) -> np.ndarray:
    """``n_points`` weights evenly over [-2, 2], 0 left out."""
    ws = np.linspace(-2.0, 2.0, max(2, n_points))
    return ws[np.abs(ws) > 1e-12]


def render_report(
    config: WannConfig,
    net: Net,
    search_weights: Sequence[float],
    tuned: float | None,
    seed: int,
    out: Path,
    options: VideoOptions = VideoOptions(),
    log=print,
) -> Movies:
    """Record the episodes of the clip and of the page (each weight once, from ``seed``),
    write ``out/episodes.gif`` and ``out/episodes.mp4``."""
    steps = make_task(config).episode_steps or 1000
    every = max(1, math.ceil(steps / options.clip_frames))
    clip_ws = [float(w) for w in search_weights]
    if tuned is not None and not any(math.isclose(tuned, w) for w in clip_ws):
        clip_ws.append(float(tuned))
    page_ws = sorted(
        {round(float(w), 12) for w in page_grid(options.page_weights)}
        | ({round(float(tuned), 12)} if tuned is not None else set())
    )
    done: dict[float, Episode] = {}
    for w in [*clip_ws, *page_ws]:
        key = round(w, 12)
        if key not in done:
            done[key] = record(config, net, w, seed, every, options.panel)
    log(f"rendered {len(done)} episodes of {config.task} (seed {seed}, every {every} steps)")
    clip = [done[round(w, 12)] for w in clip_ws]
    labels = [weight_label(w, tuned is not None and math.isclose(w, tuned)) for w in clip_ws]
    frames = clip_frames(clip, labels, cols=4)
    files = write_clip(frames, out / "episodes", options.fps)
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in files)
    log(f"clip: {len(frames)} frames of {frames.shape[2]}x{frames.shape[1]}: {sizes}")
    longest = max(len(e.frames) for e in done.values())
    page_every = max(1, math.ceil(longest / options.page_frames))
    return Movies(clip, labels, [done[w] for w in page_ws], page_every, tuned, files)
