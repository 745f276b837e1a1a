"""BipedalWalker (and its hardcore variant) as the paper ran it.

The environment is gymnasium's ``BipedalWalker-v3`` (``hardcore=True`` for
``biped-hardcore``), used through its class (no wrappers) with the paper's two changes:

* **No -100 on a fall.** Falling (the hull touches the ground) or walking off the left edge
  still ends the episode, but that step's reward is what the env would have paid without the
  penalty: the change in shaping (``130 x / SCALE - 5 |hull angle|``) minus the torque cost.
  gymnasium *replaces* the step's reward by -100, so this undoes the penalty exactly (adding
  100 back would instead give 0 for the step).
* **Episode length** 1600 steps (hardcore 2000), or ``config.episode_steps`` if set.

Determinism: a rollout's return depends only on (network, shared weight, seed).
gymnasium's env keeps one ``Box2D.b2World`` for its lifetime and only destroys and re-creates
bodies on reset; the world's contact and broad-phase state then depend on earlier episodes,
so the same seed gave different returns after different histories (the reference code
reused its world this way: 198, 287, 284 ... for one seed). Here every reset builds a fresh
world (:class:`FreshWorldWalker`), which costs nothing measurable (a reset is ~3 ms either
way, nearly all of it creating the ~200 terrain bodies).

Speed: the rollouts of a genome (six shared weights x ``n_reps``) run in lockstep, one env
each (:mod:`src.tasks.lockstep`): every step the network is evaluated for all live rollouts
in one compiled call (2-4 us per rollout for a 100-node network, loop included), then each
env is stepped. The env is :class:`FastWalker`: the episodes of :class:`FreshWorldWalker`
bit for bit (observations, rewards, episode ends; tested) at about a third of the CPU time
a step and of a reset. gymnasium's step spends a third of its time in Box2D's world step
and the rest in Python, above all 10 lidar ray casts with a Python callback per fixture
hit; FastWalker computes the lidar in a numba kernel that replays Box2D's float32 ray casts
(:func:`src.tasks.jitkernels.lidar`, compiled ahead of time when built: :mod:`src.tasks.kernels`)
and keeps gymnasium's arithmetic on Python floats, in the same order.
``python -m src.bench tasks`` measures gymnasium's env, FastWalker and our rollouts side by
side.
"""

from __future__ import annotations

import math
import warnings

import gymnasium
import numpy as np

from ..config import WannConfig
from . import kernels
from .lockstep import LockstepTask

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # Box2D's SWIG bindings
    import Box2D
    from gymnasium.envs.box2d import bipedal_walker as bw

EPISODE_STEPS = {"biped": 1600, "biped-hardcore": 2000}
#: Torque cost per unit of |action| and per joint, as in gymnasium's reward.
TORQUE_COST = 0.00035 * bw.MOTORS_TORQUE


class FreshWorldWalker(bw.BipedalWalker):
    """gymnasium's BipedalWalker whose ``reset`` builds a new Box2D world.

    Everything an episode depends on is then rebuilt from the reset seed: terrain, start
    force and the physics world itself, so an episode does not depend on earlier ones.
    """

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._destroy()
        self.world = Box2D.b2World()
        return super().reset(seed=seed, options=options)


def step_without_fall_penalty(
    env: bw.BipedalWalker, action: np.ndarray
) -> tuple[np.ndarray, float, bool]:
    """Step ``env`` with ``action`` (already in [-1, 1]); a fall pays no -100.

    Returns:
        (observation (24,) float32, reward, episode ended).
    """
    prev_shaping = env.prev_shaping
    obs, reward, terminated, _, _ = env.step(action)
    if terminated and (env.game_over or env.hull.position[0] < 0):
        # gymnasium set reward = -100; recompute what the step earned without the penalty.
        reward = env.prev_shaping - prev_shaping
        for a in action:
            reward -= TORQUE_COST * min(abs(float(a)), 1.0)
    return obs, float(reward), terminated


class Biped(LockstepTask):
    """Walk as far right as possible: 24 inputs, 4 outputs (joint torques in [-1, 1])."""

    n_inputs = 24
    n_outputs = 4
    clip_outputs = True  # joint torques in [-1, 1]

    def __init__(self, name: str = "biped", episode_steps: int = 0) -> None:
        self.name = name
        self.hardcore = name == "biped-hardcore"
        self.episode_steps = episode_steps or EPISODE_STEPS[name]
        self._envs: list[FreshWorldWalker] = []

    def envs(self, n: int) -> list[FreshWorldWalker]:
        """``n`` env instances (:class:`FastWalker`), created once and reused (each reset
        rebuilds everything)."""
        while len(self._envs) < n:
            self._envs.append(FastWalker(hardcore=self.hardcore))
        return self._envs[:n]

    def step(self, env: FreshWorldWalker, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        return step_without_fall_penalty(env, action)

    def render_env(self) -> FreshWorldWalker:
        return FreshWorldWalker(hardcore=self.hardcore, render_mode="rgb_array")


def build(config: WannConfig) -> Biped:
    return Biped(config.task, config.episode_steps)


# ----- a faster walker with identical episodes -------------------------------------------------

_B = Box2D._Box2D
_create_body = _B.b2World___CreateBody
_create_fixture = _B.b2Body___CreateFixture
_create_joint = _B.b2World___CreateJoint
_world_step = _B.b2World_Step
_ray_cast = _B.b2World_RayCast
_position = _B.b2Body___GetPosition
_velocity = _B.b2Body___GetLinearVelocity
_angle = _B.b2Body___GetAngle
_angular_velocity = _B.b2Body___GetAngularVelocity
_joint_angle = _B.b2RevoluteJoint___GetJointAngle
_joint_speed = _B.b2RevoluteJoint___GetJointSpeed
_set_speed = _B.b2RevoluteJoint___SetMotorSpeed
_set_torque = _B.b2RevoluteJoint___SetMaxMotorTorque
_fixture_a = _B.b2Contact___GetFixtureA
_fixture_b = _B.b2Contact___GetFixtureB
_fixture_body = _B.b2Fixture___GetBody
_set_vertex1 = _B.b2EdgeShape_vertex1_set
_set_vertex2 = _B.b2EdgeShape_vertex2_set

#: Lidar ray i ends at the hull position plus (_RAY_DX[i], _RAY_DY[i]) (gymnasium's formula).
_RAY_DX = np.array([math.sin(1.5 * i / 10.0) * bw.LIDAR_RANGE for i in range(10)])
_RAY_DY = np.array([-math.cos(1.5 * i / 10.0) * bw.LIDAR_RANGE for i in range(10)])
#: gymnasium's torque cost per unit of clipped |action| (same constant, same expression).
_COST = 0.00035 * bw.MOTORS_TORQUE
_SPEEDS = (bw.SPEED_HIP, bw.SPEED_KNEE, bw.SPEED_HIP, bw.SPEED_KNEE)
_END_X = (bw.TERRAIN_LENGTH - bw.TERRAIN_GRASS) * bw.TERRAIN_STEP


class _Ray(Box2D.b2.rayCastCallback):
    """gymnasium's lidar callback: the last terrain fixture reported (Box2D clips the ray at
    each, so the nearest)."""

    def ReportFixture(self, fixture, point, normal, fraction):
        if (fixture.filterData.categoryBits & 1) == 0:
            return -1
        self.p2 = point
        self.fraction = fraction
        return fraction


class _Contacts(Box2D.b2.contactListener):
    """gymnasium's ContactDetector, with bodies compared by address (what ``==`` does)."""

    def __init__(self, env: FastWalker) -> None:
        super().__init__()
        self.env = env
        self.hull = hash(env.hull)
        self.legs = ((hash(env.legs[1]), env.legs[1]), (hash(env.legs[3]), env.legs[3]))

    def BeginContact(self, contact):
        a = hash(_fixture_body(_fixture_a(contact)))
        b = hash(_fixture_body(_fixture_b(contact)))
        if self.hull in (a, b):
            self.env.game_over = True
        for h, leg in self.legs:
            if h in (a, b):
                leg.ground_contact = True

    def EndContact(self, contact):
        a = hash(_fixture_body(_fixture_a(contact)))
        b = hash(_fixture_body(_fixture_b(contact)))
        for h, leg in self.legs:
            if h in (a, b):
                leg.ground_contact = False


class FastWalker(FreshWorldWalker):
    """:class:`FreshWorldWalker` with the same episodes at lower cost (tested: identical
    observations, rewards and episode ends, bit for bit, on seeded episodes and actions).

    * ``step`` (for float64 actions of shape (4,) with finite values; anything else goes to
      gymnasium's) is gymnasium's with the same arithmetic in the same order on Python
      floats, Box2D called through its SWIG functions, and the lidar computed by
      :func:`~src.tasks.jitkernels.lidar` instead of 10 Box2D ray casts with a Python
      callback per fixture hit.
    * ``reset`` (when not rendering) builds the same bodies in the same order from the same
      random draws, without the drawing-only bookkeeping (colours, cloud and terrain
      polygons: the cloud draws are still taken from the generator), and drops the old world
      instead of destroying its bodies one by one.
    """

    #: Cast every lidar ray with Box2D, as gymnasium does (slower; the tests compare both).
    box2d_lidar = False

    def __init__(self, render_mode: str | None = None, hardcore: bool = False) -> None:
        super().__init__(render_mode=render_mode, hardcore=hardcore)
        self._static = Box2D.b2BodyDef(type=Box2D.b2_staticBody)
        self._defs = self._walker_defs()
        self._edge = self.fd_edge.shape
        self._rays = [_Ray() for _ in range(10)]
        self._lidar_out = np.empty(10, np.float32)
        self._box2d = np.zeros(10, np.bool_)
        self._zeros = np.zeros(4)
        self._kernels = kernels.load()

    # --- reset ---

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if self.render_mode is not None:
            return super().reset(seed=seed, options=options)
        gymnasium.Env.reset(self, seed=seed)
        self.world.contactListener = None
        self.terrain, self.legs, self.joints, self.hull = [], [], [], None
        self.world = Box2D.b2World()  # the old one goes with its bodies
        self.game_over = False
        self.prev_shaping = None
        self.scroll = 0.0
        self.lidar_render = 0
        self._generate_terrain(self.hardcore)
        # gymnasium's clouds take 11 uniform draws each, 10 clouds (drawing only)
        self.np_random.random(11 * (bw.TERRAIN_LENGTH // 20))
        self._create_walker()
        listener = _Contacts(self)
        self.world.contactListener_bug_workaround = listener
        self.world.contactListener = listener
        self.lidar = self._rays
        x = np.array(self.terrain_x, np.float32)
        y = np.array(self.terrain_y, np.float32)
        self._v1x, self._v1y, self._v2x, self._v2y = x[:-1], y[:-1], x[1:], y[1:]
        self._nx = np.empty(len(x) - 1, np.float32)
        self._ny = np.empty(len(x) - 1, np.float32)
        self._kernels.edge_normals(self._v1x, self._v1y, self._v2x, self._v2y, self._nx, self._ny)
        self._lidar = self._kernels.for_args("lidar", self._lidar_args(0.0, 0.0))
        return self.step(self._zeros)[0], {}

    @staticmethod
    def _walker_defs() -> tuple:
        """gymnasium's body and joint definitions for the hull and legs (they do not depend
        on the seed; the joints' bodies are set at each reset)."""
        init_x = bw.TERRAIN_STEP * bw.TERRAIN_STARTPAD / 2
        init_y = bw.TERRAIN_HEIGHT + 2 * bw.LEG_H
        dynamic = Box2D.b2_dynamicBody
        hull = Box2D.b2BodyDef(type=dynamic, position=(init_x, init_y))
        legs = []
        for i in [-1, +1]:
            upper = Box2D.b2BodyDef(
                type=dynamic,
                position=(init_x, init_y - bw.LEG_H / 2 - bw.LEG_DOWN),
                angle=(i * 0.05),
            )
            hip = bw.revoluteJointDef(
                localAnchorA=(0, bw.LEG_DOWN),
                localAnchorB=(0, bw.LEG_H / 2),
                enableMotor=True,
                enableLimit=True,
                maxMotorTorque=bw.MOTORS_TORQUE,
                motorSpeed=i,
                lowerAngle=-0.8,
                upperAngle=1.1,
            )
            lower = Box2D.b2BodyDef(
                type=dynamic,
                position=(init_x, init_y - bw.LEG_H * 3 / 2 - bw.LEG_DOWN),
                angle=(i * 0.05),
            )
            knee = bw.revoluteJointDef(
                localAnchorA=(0, -bw.LEG_H / 2),
                localAnchorB=(0, bw.LEG_H / 2),
                enableMotor=True,
                enableLimit=True,
                maxMotorTorque=bw.MOTORS_TORQUE,
                motorSpeed=1,
                lowerAngle=-1.6,
                upperAngle=-0.1,
            )
            legs.append((upper, hip, lower, knee))
        return hull, legs

    def _create_walker(self) -> None:
        """gymnasium's hull, legs and joints, created in the same order (no colours)."""
        world = self.world
        hull_def, leg_defs = self._defs
        self.hull = hull = _create_body(world, hull_def)
        _create_fixture(hull, bw.HULL_FD)
        hull.ApplyForceToCenter(
            (self.np_random.uniform(-bw.INITIAL_RANDOM, bw.INITIAL_RANDOM), 0), True
        )
        legs, joints = [], []
        for upper_def, hip, lower_def, knee in leg_defs:
            leg = _create_body(world, upper_def)
            _create_fixture(leg, bw.LEG_FD)
            hip.bodyA, hip.bodyB = hull, leg
            hip.referenceAngle = leg.angle - hull.angle  # as revoluteJointDef(bodyA=, bodyB=)
            legs.append(leg)
            joints.append(_create_joint(world, hip))
            lower = _create_body(world, lower_def)
            _create_fixture(lower, bw.LOWER_FD)
            knee.bodyA, knee.bodyB = leg, lower
            knee.referenceAngle = lower.angle - leg.angle
            lower.ground_contact = False
            legs.append(lower)
            joints.append(_create_joint(world, knee))
        self.legs, self.joints = legs, joints
        self.drawlist = self.terrain + legs + [hull]

    def _generate_terrain(self, hardcore):
        """gymnasium's terrain: the same draws, bodies and fixtures, in the same order."""
        if self.render_mode is not None:
            return super()._generate_terrain(hardcore)
        GRASS, STUMP, STAIRS, PIT, _STATES_ = range(5)
        rng = self.np_random
        draw = rng.random  # uniform(-1, 1) is -1 + 2 * random(): the same double
        world, static, polygon = self.world, self._static, self.fd_polygon
        step_ = bw.TERRAIN_STEP
        height = bw.TERRAIN_HEIGHT
        state = GRASS
        velocity = 0.0
        y = height
        counter = bw.TERRAIN_STARTPAD
        oneshot = False
        terrain = []
        boxes, shapes = [], []
        xs, ys = [], []
        self.terrain_x, self.terrain_y = xs, ys

        def add_polygon(poly):
            shape = polygon.shape
            shape.vertices = poly
            t = _create_body(world, static)
            _create_fixture(t, polygon)  # a copy of ``shape``
            terrain.append(t)
            px, py = [p[0] for p in poly], [p[1] for p in poly]
            boxes.append((min(px), max(px), min(py), max(py)))
            shapes.append((shape.vertices, shape.normals))

        stair_steps, stair_width, stair_height = 0, 0, 0
        original_y = 0
        for i in range(bw.TERRAIN_LENGTH):
            x = i * step_
            xs.append(x)
            if state == GRASS and not oneshot:
                d = height - y
                velocity = 0.8 * velocity + 0.01 * (1 if d > 0 else -1 if d < 0 else 0)
                if i > bw.TERRAIN_STARTPAD:
                    velocity += (-1.0 + 2.0 * draw()) / bw.SCALE
                y += velocity
            elif state == PIT and oneshot:
                counter = rng.integers(3, 5)
                poly = [(x, y), (x + step_, y), (x + step_, y - 4 * step_), (x, y - 4 * step_)]
                add_polygon(poly)
                add_polygon([(p[0] + step_ * counter, p[1]) for p in poly])
                counter += 2
                original_y = y
            elif state == PIT and not oneshot:
                y = original_y
                if counter > 1:
                    y -= 4 * step_
            elif state == STUMP and oneshot:
                counter = rng.integers(1, 3)
                add_polygon(
                    [
                        (x, y),
                        (x + counter * step_, y),
                        (x + counter * step_, y + counter * step_),
                        (x, y + counter * step_),
                    ]
                )
            elif state == STAIRS and oneshot:
                stair_height = +1 if rng.random() > 0.5 else -1
                stair_width = rng.integers(4, 5)
                stair_steps = rng.integers(3, 5)
                original_y = y
                for s in range(stair_steps):
                    add_polygon(
                        [
                            (
                                x + (s * stair_width) * step_,
                                y + (s * stair_height) * step_,
                            ),
                            (
                                x + ((1 + s) * stair_width) * step_,
                                y + (s * stair_height) * step_,
                            ),
                            (
                                x + ((1 + s) * stair_width) * step_,
                                y + (-1 + s * stair_height) * step_,
                            ),
                            (
                                x + (s * stair_width) * step_,
                                y + (-1 + s * stair_height) * step_,
                            ),
                        ]
                    )
                counter = stair_steps * stair_width
            elif state == STAIRS and not oneshot:
                s = stair_steps * stair_width - counter - stair_height
                n = s / stair_width
                y = original_y + (n * stair_height) * step_

            oneshot = False
            ys.append(y)
            counter -= 1
            if counter == 0:
                counter = rng.integers(bw.TERRAIN_GRASS // 2, bw.TERRAIN_GRASS)
                if state == GRASS and hardcore:
                    state = rng.integers(1, _STATES_)
                    oneshot = True
                else:
                    state = GRASS
                    oneshot = True

        edge, fd_edge = self._edge, self.fd_edge
        for i in range(bw.TERRAIN_LENGTH - 1):
            _set_vertex1(edge, (xs[i], ys[i]))
            _set_vertex2(edge, (xs[i + 1], ys[i + 1]))
            t = _create_body(world, static)
            _create_fixture(t, fd_edge)
            terrain.append(t)
        terrain.reverse()
        self.terrain = terrain
        k = len(shapes)
        self._boxes = np.array(boxes, np.float64).reshape(k, 4)
        self._verts = np.zeros((k, 8, 2), np.float32)
        self._normals = np.zeros((k, 8, 2), np.float32)
        self._counts = np.zeros(k, np.int64)
        for i, (verts, normals) in enumerate(shapes):
            self._counts[i] = len(verts)
            self._verts[i, : len(verts)] = verts
            self._normals[i, : len(verts)] = normals

    # --- step ---

    def _lidar_args(self, px: float, py: float) -> tuple:
        """The arguments of :func:`~src.tasks.jitkernels.lidar` for the hull at (px, py)."""
        return (
            px,
            py,
            _RAY_DX,
            _RAY_DY,
            self._v1x,
            self._v1y,
            self._v2x,
            self._v2y,
            self._nx,
            self._ny,
            self._boxes,
            self._verts,
            self._normals,
            self._counts,
            self._lidar_out,
            self._box2d,
        )

    def lidar_fractions(self, px: float, py: float) -> list[float]:
        """The 10 lidar fractions gymnasium's step computes with the hull at (px, py)
        (float32 values): :func:`~src.tasks.jitkernels.lidar`, and Box2D's ray casts where
        it says so (or for all rays if :attr:`box2d_lidar`)."""
        out, box2d = self._lidar_out, self._box2d
        n_box2d = self._lidar(*self._lidar_args(px, py))
        fractions = out.tolist()
        if self.box2d_lidar:
            box2d[:] = True
            n_box2d = 10
        if n_box2d:
            for i in np.flatnonzero(box2d).tolist():
                ray = self._rays[i]
                ray.fraction = 1.0
                ray.p1 = (px, py)
                ray.p2 = (px + _RAY_DX[i], py + _RAY_DY[i])
                _ray_cast(self.world, ray, ray.p1, ray.p2)
                fractions[i] = ray.fraction
        return fractions

    def step(self, action: np.ndarray):
        if (
            self.render_mode is not None
            or type(action) is not np.ndarray
            or action.dtype != np.float64
            or action.shape != (4,)
        ):
            return super().step(action)
        acts = action.tolist()
        for a in acts:
            if not math.isfinite(a):
                return super().step(action)
        joints = self.joints
        for j, a, speed in zip(joints, acts, _SPEEDS):
            # float(SPEED * np.sign(a)), float(MOTORS_TORQUE * np.clip(np.abs(a), 0, 1))
            _set_speed(j, speed * (1.0 if a > 0 else -1.0 if a < 0 else 0.0))
            a = abs(a)
            _set_torque(j, bw.MOTORS_TORQUE * (a if a < 1.0 else 1.0))
        world = self.world
        _world_step(world, 1.0 / bw.FPS, 6 * 30, 2 * 30)

        hull = self.hull
        pos = _position(hull)
        vel = _velocity(hull)
        px, py = pos.x, pos.y
        angle = _angle(hull)
        legs = self.legs
        j0, j1, j2, j3 = joints
        state = [
            angle,
            2.0 * _angular_velocity(hull) / bw.FPS,
            0.3 * vel.x * (bw.VIEWPORT_W / bw.SCALE) / bw.FPS,
            0.3 * vel.y * (bw.VIEWPORT_H / bw.SCALE) / bw.FPS,
            _joint_angle(j0),
            _joint_speed(j0) / bw.SPEED_HIP,
            _joint_angle(j1) + 1.0,
            _joint_speed(j1) / bw.SPEED_KNEE,
            1.0 if legs[1].ground_contact else 0.0,
            _joint_angle(j2),
            _joint_speed(j2) / bw.SPEED_HIP,
            _joint_angle(j3) + 1.0,
            _joint_speed(j3) / bw.SPEED_KNEE,
            1.0 if legs[3].ground_contact else 0.0,
        ]
        fractions = self.lidar_fractions(px, py)
        obs = np.array(state + fractions, dtype=np.float32)

        self.scroll = px - bw.VIEWPORT_W / bw.SCALE / 5
        shaping = 130 * px / bw.SCALE
        shaping -= 5.0 * abs(angle)
        reward = 0 if self.prev_shaping is None else shaping - self.prev_shaping
        self.prev_shaping = shaping
        for a in acts:
            a = abs(a)
            reward -= _COST * (a if a < 1.0 else 1.0)
        terminated = False
        if self.game_over or px < 0:
            reward = -100
            terminated = True
        if px > _END_X:
            terminated = True
        return obs, reward, terminated, False, {}
