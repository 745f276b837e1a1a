"""Fit the CarRacing frame encoder: ``python -m src.tasks.fit_carracing_encoder``.

Collects frames from CarRacing-v3 (seeded episodes, every ``--stride``-th frame) driven by
a mix of simple policies, so that the frames cover what searched networks will see:

* ``track``: steers towards a point a few tiles ahead on the track, at a moderate speed;
* ``weaving``: the same with strong steering noise and higher speed (leaves the road often);
* ``random``: random steering, gas and brake held for a few frames at a time (grass, spins).

Then fits PCA to 16 components on the grayscale 48x48 pixels (see
:mod:`src.tasks.carracing`) and writes the encoder (about 150 KB) to
``src/tasks/data/carracing_encoder.npz``. It reports the variance explained and the
reconstruction error on held-out frames (every tenth collected frame is held out).
The same arguments give the same encoder (the env, the policies and the PCA are seeded or
deterministic).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

from .carracing import ENCODER_PATH, FastCarRacing, fit_pca, frame_pixels

POLICIES = ("track", "weaving", "random", "track")


def track_action(env: FastCarRacing, rng: np.random.Generator, noise: float, speed: float):
    """Steer towards the track point 5 tiles ahead of the nearest one; hold ``speed``."""
    hull = env.car.hull
    pos = np.array(hull.position)
    track = np.array([(t[2], t[3]) for t in env.track])
    i = int(np.argmin(((track - pos) ** 2).sum(axis=1)))
    d = track[(i + 5) % len(track)] - pos
    fwd = np.array(hull.GetWorldVector((0, 1)))
    err = math.atan2(fwd[0] * d[1] - fwd[1] * d[0], fwd @ d)
    steer = float(np.clip(-2.0 * err + noise * rng.normal(), -1.0, 1.0))
    gas = 0.4 if np.linalg.norm(hull.linearVelocity) < speed else 0.0
    return np.array([steer, gas, 0.0])


def collect(n_frames: int, seed: int, stride: int, log=print) -> np.ndarray:
    """(n_frames, 96, 96, 3) uint8 frames from seeded episodes of the policies above."""
    env = FastCarRacing(continuous=True)
    frames: list[np.ndarray] = []
    episode = 0
    while len(frames) < n_frames:
        policy = POLICIES[episode % len(POLICIES)]
        rng = np.random.default_rng([seed, episode])
        obs, _ = env.reset(seed=seed * 1000 + episode)
        action = np.zeros(3)
        start, total = time.perf_counter(), 0.0
        for t in range(1000):
            if t % stride == 0:
                frames.append(obs)
            if policy == "track":
                action = track_action(env, rng, 0.1, 40.0)
            elif policy == "weaving":
                action = track_action(env, rng, 0.8, 70.0)
            elif t % 8 == 0:  # random, held for 8 frames
                action = np.array([rng.uniform(-1, 1), rng.uniform(0, 1), rng.uniform(0, 0.3)])
            obs, reward, terminated, _, _ = env.step(action)
            total += reward
            if terminated or len(frames) >= n_frames:
                break
        log(
            f"episode {episode} ({policy}): {t + 1} steps, return {total:.0f}, "
            f"{(time.perf_counter() - start) / (t + 1) * 1e3:.1f} ms a step; "
            f"{len(frames)} frames"
        )
        episode += 1
    return np.stack(frames[:n_frames])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m src.tasks.fit_carracing_encoder", description=__doc__
    )
    p.add_argument("--frames", type=int, default=3000, help="frames to collect (default 3000)")
    p.add_argument("--stride", type=int, default=4, help="keep every STRIDE-th frame")
    p.add_argument("--seed", type=int, default=0, help="seed of the episodes and policies")
    p.add_argument("--out", default=str(ENCODER_PATH), help="where to write the encoder")
    args = p.parse_args(argv)
    if args.frames < 20 or args.stride < 1:
        print("error: --frames must be >= 20 and --stride >= 1", file=sys.stderr)
        return 2
    start = time.perf_counter()
    frames = collect(args.frames, args.seed, args.stride)
    pixels = frame_pixels(frames)
    held_out = np.arange(len(pixels)) % 10 == 9
    encoder, explained = fit_pca(pixels[~held_out])
    test = pixels[held_out]
    mse = float(((encoder.decode(encoder.encode(frames[held_out])) - test) ** 2).mean())
    baseline = float(((test - encoder.mean) ** 2).mean())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    encoder.save(
        out,
        explained_variance=explained.astype(np.float32),
        n_frames=len(frames),
        stride=args.stride,
        seed=args.seed,
        heldout_mse=mse,
    )
    print(
        f"PCA on {int((~held_out).sum())} frames: 16 components explain "
        f"{100 * explained.sum():.1f} % of the pixel variance; held-out reconstruction MSE "
        f"{mse:.5f} (mean frame alone: {baseline:.5f}); wrote {out} "
        f"({out.stat().st_size / 1024:.0f} KB) in {time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
