"""FastWalker: the biped's env, bit-identical to gymnasium's BipedalWalker with a fresh world.

Every observation is compared with ``np.array_equal`` (float32, all 24 values), every reward
and episode end with ``==``, over seeded episodes (biped and hardcore) whose actions come from
random draws (inside and outside [-1, 1], exact zeros, exact +-1) and from networks.
"""

import math
import warnings

import numpy as np
import pytest
from conftest import grown_genome

from src.core.network import compile_genome, forward
from src.tasks import biped, jitkernels
from src.tasks.biped import Biped, Box2D, FastWalker, FreshWorldWalker, bw


def random_action(rng, obs, kind):
    if kind == 0:  # beyond [-1, 1] half of the time: the clipping of torques and costs
        return rng.uniform(-2.0, 2.0, 4)
    if kind == 1:  # exact 0, +-1 and values in between (np.sign and np.clip edge cases)
        return rng.choice([-1.0, -0.5, 0.0, 0.25, 1.0], 4)
    return np.tanh(3 * obs[:4].astype(np.float64) + obs[4:8] + rng.normal(0, 0.3, 4))


def compare_episodes(hardcore, seeds, max_steps, policy, box2d_lidar=False):
    """Run both envs through the same episodes; returns (steps, falls)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, fast = FreshWorldWalker(hardcore=hardcore), FastWalker(hardcore=hardcore)
    fast.box2d_lidar = box2d_lidar
    steps = falls = 0
    for seed in seeds:
        o1, _ = ref.reset(seed=seed)
        o2, _ = fast.reset(seed=seed)
        assert np.array_equal(o1, o2), seed
        for t in range(max_steps):
            a = policy(seed, t, o1)
            o1, r1, d1, tr1, _ = ref.step(a)
            o2, r2, d2, tr2, _ = fast.step(a)
            assert o2.dtype == np.float32 and o2.shape == (24,)
            assert np.array_equal(o1, o2), (seed, t, np.flatnonzero(o1 != o2))
            assert r1 == r2 and d1 == d2 and tr1 == tr2, (seed, t, r1, r2, d1, d2)
            assert ref.prev_shaping == fast.prev_shaping and ref.game_over == fast.game_over
            steps += 1
            if d1:
                falls += ref.game_over
                break
    return steps, falls


@pytest.mark.parametrize("hardcore", [False, True])
def test_identical_to_gymnasium_on_random_actions(hardcore):
    rng = np.random.default_rng(7 + hardcore)
    steps, falls = compare_episodes(
        hardcore,
        range(50),
        250,
        lambda seed, t, obs: random_action(rng, obs, seed % 3),
    )
    assert steps > 3000 and falls > 10


def test_identical_with_box2d_lidar():
    """The path that leaves rays to Box2D (near-ties at polygons) gives the same too."""
    rng = np.random.default_rng(5)
    policy = lambda seed, t, obs: random_action(rng, obs, 2)  # noqa: E731
    assert compare_episodes(True, range(200, 206), 150, policy, box2d_lidar=True)[0] > 200


def gymnasium_lidar(world, px, py):
    """gymnasium's 10 lidar casts (its callback and formula) from (px, py)."""

    class LidarCallback(Box2D.b2.rayCastCallback):
        def ReportFixture(self, fixture, point, normal, fraction):
            if (fixture.filterData.categoryBits & 1) == 0:
                return -1
            self.p2 = point
            self.fraction = fraction
            return fraction

    out = []
    for i in range(10):
        cb = LidarCallback()
        cb.fraction = 1.0
        p2 = (
            px + math.sin(1.5 * i / 10.0) * bw.LIDAR_RANGE,
            py - math.cos(1.5 * i / 10.0) * bw.LIDAR_RANGE,
        )
        world.RayCast(cb, (px, py), p2)
        out.append(cb.fraction)
    return out


@pytest.mark.parametrize("hardcore", [False, True])
def test_lidar_equals_box2d_ray_casts(hardcore):
    """From thousands of hull positions over the terrain (some inside stumps and walls),
    the kernel's fractions are Box2D's; in hardcore many rays end on a polygon."""
    env = FastWalker(hardcore=hardcore)
    rng = np.random.default_rng(hardcore)
    on_polygons = 0
    for seed in range(4):
        env.reset(seed=seed)
        xs, ys = np.array(env.terrain_x), np.array(env.terrain_y)
        for x in rng.uniform(0.0, xs[-1], 1500):
            y = np.interp(x, xs, ys) + rng.uniform(-0.5, 4.0)
            px, py = np.float32(x).item(), np.float32(y).item()
            ours = env.lidar_fractions(px, py)
            assert ours == gymnasium_lidar(env.world, px, py), (seed, px, py)
            edges_only = np.empty(10, np.float32)
            jitkernels.lidar(
                px, py, biped._RAY_DX, biped._RAY_DY, env._v1x, env._v1y, env._v2x,
                env._v2y, env._nx, env._ny, env._boxes[:0], env._verts, env._normals,
                env._counts, edges_only, np.zeros(10, np.bool_),
            )  # fmt: skip
            on_polygons += int((edges_only != np.array(ours, np.float32)).sum())
    assert (on_polygons > 1000) == hardcore


@pytest.mark.parametrize("hardcore", [False, True])
def test_identical_to_gymnasium_on_network_actions(hardcore):
    plans = [compile_genome(grown_genome(24, 4, 30, seed=s)) for s in range(5)]
    weights = [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0]

    def policy(seed, t, obs):
        plan, w = plans[seed % 5], weights[seed % 6]
        return np.clip(forward(plan, obs.astype(np.float64), w), -1.0, 1.0)

    steps, _ = compare_episodes(hardcore, range(100, 130), 400, policy)
    assert steps > 1000


def test_other_action_types_take_gymnasiums_step():
    """float32, lists and non-finite actions go through gymnasium's own step."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, fast = FreshWorldWalker(hardcore=True), FastWalker(hardcore=True)
    rng = np.random.default_rng(3)
    for seed in (11, 12):
        assert np.array_equal(ref.reset(seed=seed)[0], fast.reset(seed=seed)[0])
        for t in range(120):
            a = rng.uniform(-1.2, 1.2, 4)
            a = [a.astype(np.float32), list(a), a][t % 3]
            o1, r1, d1, _, _ = ref.step(a)
            o2, r2, d2, _, _ = fast.step(a)
            assert np.array_equal(o1, o2) and r1 == r2 and d1 == d2
            if d1:
                break
    bad = np.array([0.1, np.nan, 0.0, 0.2])  # gymnasium's step fails on it; so does ours
    for env in (ref, fast):
        with pytest.raises(AssertionError, match="LengthSquared"):
            for _ in range(3):
                env.step(bad)


def test_terrain_shapes_are_box2ds():
    """The lidar's float32 edges and polygons are exactly what Box2D stored."""
    env = FastWalker(hardcore=True)
    env.reset(seed=4)
    shapes = [t.fixtures[0].shape for t in env.terrain]
    edges = [s for s in shapes if isinstance(s, Box2D.b2EdgeShape)]
    stored = sorted(tuple(v for p in s.vertices for v in p) for s in edges)
    ours = sorted(zip(env._v1x.tolist(), env._v1y.tolist(), env._v2x.tolist(), env._v2y.tolist()))
    assert stored == ours and len(ours) == 199
    polygons = [s for s in shapes if isinstance(s, Box2D.b2PolygonShape)]
    stored = sorted((s.vertices, s.normals) for s in polygons)
    ours = [
        (
            [tuple(v) for v in env._verts[k, :n].tolist()],
            [tuple(v) for v in env._normals[k, :n].tolist()],
        )
        for k, n in enumerate(env._counts.tolist())
    ]
    assert len(polygons) > 5 and stored == sorted(ours)


def test_rollouts_identical_with_either_env():
    """The task's rollouts (lockstep, network actions, fall penalty undone) give the same
    returns and step counts whether its envs are FastWalker or FreshWorldWalker."""
    plan = compile_genome(grown_genome(24, 4, 20, seed=2))
    weights = np.repeat([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], 2)
    seeds = np.tile([21, 22], 6)
    for name in ("biped", "biped-hardcore"):
        fast = Biped(name, 300)
        assert isinstance(fast.envs(1)[0], FastWalker)
        ref = Biped(name, 300)
        ref._envs = [FreshWorldWalker(hardcore=ref.hardcore) for _ in range(len(weights))]
        r1, n1 = fast.rollouts(plan, weights, seeds)
        r2, n2 = ref.rollouts(plan, weights, seeds)
        assert n1 == n2 and np.array_equal(r1, r2)


def test_render_env_draws():
    env = Biped("biped-hardcore").render_env()
    env.reset(seed=1)
    env.step(np.zeros(4))
    assert env.render().shape == (400, 600, 3)
    assert biped.FastWalker(render_mode="rgb_array").reset(seed=1)[0].shape == (24,)
