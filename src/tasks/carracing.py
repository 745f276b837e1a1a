"""CarRacing from 16 features of each frame (Gaier & Ha 2019, section 4.2).

The environment is gymnasium's ``CarRacing-v3`` (continuous actions), used through its class.
Its 96x96 RGB frame is mapped to 16 features by the encoder shipped in
``src/tasks/data/carracing_encoder.npz``, fitted by this project's own script
(``python -m src.tasks.fit_carracing_encoder``) on frames it collects: grayscale, 2x2 area
average to 48x48, then PCA to 16 components scaled to unit variance on the collected frames.
The paper instead fed the 16-dimensional latent of a VAE trained on frames (World Models).

Network: 16 inputs, 3 outputs; steer ``clip(a0, -1, 1)``, gas ``(clip(a1, -1, 1) + 1) / 2``,
brake ``clip(a2, 0, 1)``. Reward as gymnasium pays it (-0.1 a frame, +1000/N per new track
tile, -100 and the end of the episode when the car leaves the playfield); episodes of 1000
steps (``config.episode_steps`` to change), ending early when a lap is complete. The rollouts
of a call run in lockstep (:mod:`src.tasks.lockstep`), their frames encoded together.

Cost: CarRacing draws every frame (pygame polygons at 1000x800, scaled to 96x96). This
module's env (:class:`FastCarRacing`) draws exactly the same frames but skips the per-polygon
Python bookkeeping for the ~700 grass and road polygons that are off screen, with one numpy
visibility test per frame (tested: identical frames). Each reset builds a fresh Box2D world,
so a rollout depends only on its seed, as for the biped.

``WANN_CARRACING_ENCODER=FILE`` uses another encoder file (every rank must see the same one).
A missing, damaged or malformed encoder file is a one-line error (exit 2) when the task is
built, before ``src.master`` writes anything.
"""

from __future__ import annotations

import math
import os
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from ..config import ConfigError, WannConfig
from .lockstep import LockstepTask

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # Box2D's SWIG bindings
    import Box2D
    from gymnasium.envs.box2d import car_racing as cr

ENCODER_PATH = Path(__file__).parent / "data" / "carracing_encoder.npz"
EPISODE_STEPS = 1000
N_FEATURES = 16
#: Frames are averaged over POOL x POOL pixel blocks before the PCA (96 -> 48).
POOL = 2
GRAY = np.array([0.299, 0.587, 0.114])
#: Pixels an encoder reads: the 96x96 frame, POOL x POOL averaged.
N_PIXELS = (96 // POOL) ** 2
_ENCODER_SHAPES = {
    "mean": (N_PIXELS,),
    "components": (N_FEATURES, N_PIXELS),
    "scale": (N_FEATURES,),
}
#: Environment variable naming another encoder file (one fitted by the user; the tests' damaged
#: ones); the shipped :data:`ENCODER_PATH` when unset.
ENCODER_VARIABLE = "WANN_CARRACING_ENCODER"


# ----- environment ------------------------------------------------------------------------


class FastCarRacing(cr.CarRacing):
    """gymnasium's CarRacing with a fresh Box2D world per reset and a faster road drawing.

    ``_render_road`` draws the same polygons in the same order with the same pygame calls as
    gymnasium's; it only skips, with one vectorised test, the polygons that gymnasium's own
    per-polygon test would skip (no vertex within the screen plus a margin). Its test uses a
    margin one pixel wider, so it never skips a polygon gymnasium would draw, and each
    remaining polygon still goes through gymnasium's exact test and drawing code.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._grass = _grass_polygons()
        self._road: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._destroy()
        self.world = Box2D.b2World((0, 0))
        self._road = None  # the new track's polygons, as an array at the first drawing
        return super().reset(seed=seed, options=options)

    def _render_road(self, zoom: float, translation, angle: float) -> None:
        bounds = cr.PLAYFIELD
        field = [(bounds, bounds), (bounds, -bounds), (-bounds, -bounds), (-bounds, bounds)]
        self._draw_colored_polygon(
            self.surf, field, self.bg_color, zoom, translation, angle, clip=False
        )
        for k in np.flatnonzero(_visible(self._grass, zoom, translation, angle)).tolist():
            poly = [tuple(p) for p in self._grass[k].tolist()]
            self._draw_colored_polygon(self.surf, poly, self.grass_color, zoom, translation, angle)
        if self._road is None:
            self._road = np.array([p for p, _ in self.road_poly], np.float64).reshape(-1, 4, 2)
        for k in np.flatnonzero(_visible(self._road, zoom, translation, angle)).tolist():
            poly, color = self.road_poly[k]
            poly = [(p[0], p[1]) for p in poly]
            color = [int(c) for c in color]
            self._draw_colored_polygon(self.surf, poly, color, zoom, translation, angle)


def _grass_polygons() -> np.ndarray:
    """(400, 4, 2) the grass patches, in gymnasium's drawing order."""
    d = cr.GRASS_DIM
    polys = [
        [(d * x + d, d * y), (d * x, d * y), (d * x, d * y + d), (d * x + d, d * y + d)]
        for x in range(-20, 20, 2)
        for y in range(-20, 20, 2)
    ]
    return np.array(polys, dtype=np.float64)


def _visible(polys: np.ndarray, zoom: float, translation, angle: float) -> np.ndarray:
    """(n,) polygons with a vertex inside the screen plus gymnasium's margin (+1 pixel)."""
    if len(polys) == 0:
        return np.zeros(0, dtype=bool)
    c, s = math.cos(angle), math.sin(angle)
    x = (polys[..., 0] * c - polys[..., 1] * s) * zoom + translation[0]
    y = (polys[..., 0] * s + polys[..., 1] * c) * zoom + translation[1]
    m = cr.MAX_SHAPE_DIM + 1.0
    inside = (x >= -m) & (x <= cr.WINDOW_W + m) & (y >= -m) & (y <= cr.WINDOW_H + m)
    return inside.any(axis=1)


# ----- encoder ------------------------------------------------------------------------------


@numba.njit(cache=True)
def _gray_pooled(frames, weights, pool):
    k, h, w, _ = frames.shape
    hp, wp = h // pool, w // pool
    out = np.zeros((k, hp * wp))
    for f in range(k):
        for r in range(hp * pool):
            for c in range(wp * pool):
                px = frames[f, r, c]
                out[f, (r // pool) * wp + c // pool] += (
                    weights[0] * px[0] + weights[1] * px[1] + weights[2] * px[2]
                )
    return out


def frame_pixels(frames: np.ndarray) -> np.ndarray:
    """(k, 96, 96, 3) uint8 frames -> (k, 48 * 48) float64 grayscale in [0, 1], 2x2 averaged."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    return _gray_pooled(frames, GRAY / (255.0 * POOL * POOL), POOL)


@dataclass(frozen=True)
class Encoder:
    """Frame -> 16 features: ``((pixels - mean) @ components.T) / scale``.

    Attributes:
        mean: (d,) mean pixel vector of the fitting frames.
        components: (16, d) principal directions (rows, orthonormal).
        scale: (16,) standard deviation of each component on the fitting frames.
    """

    mean: np.ndarray
    components: np.ndarray
    scale: np.ndarray

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(k, 96, 96, 3) uint8 frames -> (k, 16) features, about unit variance."""
        return ((frame_pixels(frames) - self.mean) @ self.components.T) / self.scale

    def decode(self, features: np.ndarray) -> np.ndarray:
        """(k, 16) features -> (k, d) reconstructed pixels (for checking the fit)."""
        return (np.asarray(features) * self.scale) @ self.components + self.mean

    def save(self, path: Path, **info: np.ndarray | float | int) -> None:
        np.savez_compressed(
            path,
            mean=self.mean.astype(np.float32),
            components=self.components.astype(np.float32),
            scale=self.scale.astype(np.float32),
            **info,
        )

    @classmethod
    def load(cls, path: Path = ENCODER_PATH) -> Encoder:
        """Read and check an encoder file.

        Raises:
            ConfigError: the file is missing, not a readable ``.npz`` (truncated, a Git LFS
                pointer, garbage), or its arrays lack a name, have the wrong shape or hold
                non-finite values: one line naming the file and the fitting command.
        """
        fit = "fit it with `python -m src.tasks.fit_carracing_encoder`"
        if not Path(path).is_file():
            raise ConfigError(f"carracing: frame encoder {str(path)!r} not found; {fit}")
        try:
            with np.load(path) as data:
                arrays = {k: np.asarray(data[k], dtype=np.float64) for k in _ENCODER_SHAPES}
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
            raise ConfigError(
                f"carracing: frame encoder {str(path)!r} is unreadable ({exc}); {fit}"
            ) from None
        for name, shape in _ENCODER_SHAPES.items():
            if arrays[name].shape != shape or not np.isfinite(arrays[name]).all():
                raise ConfigError(
                    f"carracing: frame encoder {str(path)!r}: {name} must be {shape} finite "
                    f"numbers (got shape {arrays[name].shape}); {fit}"
                )
        if (arrays["scale"] <= 0).any():
            raise ConfigError(f"carracing: frame encoder {str(path)!r}: scale must be > 0; {fit}")
        return cls(**arrays)


def fit_pca(pixels: np.ndarray, n_components: int = N_FEATURES) -> tuple[Encoder, np.ndarray]:
    """PCA encoder of (n, d) pixel rows; returns it and the explained variance ratios."""
    mean = pixels.mean(axis=0)
    centred = pixels - mean
    _, sing, vt = np.linalg.svd(centred, full_matrices=False)
    var = sing**2 / (len(pixels) - 1)
    # A sign convention, so refits on the same frames give the same encoder.
    comps = vt[:n_components] * np.sign(vt[:n_components].sum(axis=1, keepdims=True) + 1e-300)
    enc = Encoder(mean=mean, components=comps, scale=np.sqrt(var[:n_components]))
    return enc, var[:n_components] / var.sum()


# ----- actions and rollouts ------------------------------------------------------------------


def actions_of(outputs: np.ndarray) -> np.ndarray:
    """(k, 3) network outputs -> (k, 3) [steer, gas, brake] in the ranges of CarRacing's action
    space: steer clipped to [-1, 1], gas clipped to [-1, 1] then moved to [0, 1], brake clipped
    to [0, 1]."""
    out = np.asarray(outputs, dtype=np.float64)
    return np.stack(
        [
            np.clip(out[:, 0], -1.0, 1.0),
            (np.clip(out[:, 1], -1.0, 1.0) + 1.0) / 2.0,
            np.clip(out[:, 2], 0.0, 1.0),
        ],
        axis=1,
    )


class CarRacingTask(LockstepTask):
    """Drive around a random track: 16 frame features in, steer/gas/brake out."""

    name = "carracing"
    n_inputs = N_FEATURES
    n_outputs = 3

    def __init__(self, episode_steps: int = 0, encoder_path: Path = ENCODER_PATH) -> None:
        self.episode_steps = episode_steps or EPISODE_STEPS
        self.encoder = Encoder.load(encoder_path)
        self._envs: list[FastCarRacing] = []

    def envs(self, n: int) -> list[FastCarRacing]:
        """``n`` env instances, created once and reused (each reset rebuilds everything)."""
        while len(self._envs) < n:
            self._envs.append(FastCarRacing(continuous=True))
        return self._envs[:n]

    def observe(self, obs: np.ndarray) -> np.ndarray:
        return self.encoder.encode(obs)

    def actions(self, outputs: np.ndarray) -> np.ndarray:
        return actions_of(outputs)

    def step(self, env: FastCarRacing, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        frame, reward, terminated, _, _ = env.step(action)
        return frame, reward, terminated

    def render_env(self) -> FastCarRacing:
        return FastCarRacing(continuous=True, render_mode="rgb_array")


def build(config: WannConfig) -> CarRacingTask:
    """The task; its encoder is read and checked now (ConfigError before anything is written)."""
    return CarRacingTask(
        config.episode_steps, Path(os.environ.get(ENCODER_VARIABLE) or ENCODER_PATH)
    )
