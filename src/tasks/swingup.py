"""Cart-pole swing-up with a compiled rollout kernel.

The physics is ``envs.swingup.step_dynamics`` / ``step_reward`` compiled with numba, so the
kernel and the gymnasium env (:class:`envs.swingup.CartPoleSwingUpEnv`) share one
implementation. Initial states come from ``envs.swingup.initial_state`` with the rollout seed,
which is exactly what ``env.reset(seed=seed)`` draws: with ``swingup_math = 'libm'`` a kernel
rollout equals a gymnasium episode with the same seed (tested).

The kernel (:func:`_swingup_rollouts`) steps every rollout of a genome (shared weights x reps)
together, one *lane* each: the network's values are a (slots, lanes) array, each node is
computed for all live lanes in one loop (its activation chosen once per node, not per lane),
and a lane whose episode ends is swapped out, so the cost follows the live lanes. The
rollouts are bit-identical to running them one after the other
(:func:`_swingup_rollouts_reference`, kept as the reference the tests compare against): each
lane performs the same float operations in the same order, with the same libm functions.

Speed: 1.2-1.6x fewer CPU-seconds per env step than one by one (``python -m src.bench
swingup`` prints both kernels side by side). Most of a step is libm (``sin``, ``cos``,
``tanh`` via ``expm1``, ``exp``: the activations and the physics), which a bit-identical kernel
must call as often as the reference does: on a late search population (~12 computed nodes,
~880 steps a rollout) libm is ~60 % of the lane kernel's time. The compiled code around it
is ~2.7x cheaper in lanes (perf), libm ~1.35x (``sin`` and ``cos`` of one angle fused into
``sincos``, runs of one function per node).

``swingup_math = 'fast'`` (config; swing-up's task file sets it) takes the activations
that call libm (tanh, sigmoid, sin, cos, Gaussian: ~75 % of the lane kernel on late
populations, glibc's
``tanh`` through ``expm1`` the costliest) from :mod:`src.core.fastmath`: within 2 ulp of
glibc's, no call, so the lane loops of those nodes vectorise (a late search population's
kernel ~2x faster). The physics stays glibc's. Both kernels take the flag (the lanes still
equal the reference bit for bit, tested); the search it gives is another one, as
seed-determined and the same at any rank count.

Every kernel's disk cache is keyed on the contents of all the files it compiles
(:mod:`src.core.jitcache`), so an edit to ``activations.py`` or ``envs/swingup.py`` cannot leave
a stale compiled kernel behind.
"""

from __future__ import annotations

import math
from pathlib import Path

import numba
import numba.extending
import numpy as np
from llvmlite import ir

from envs import swingup as env

from ..config import CHOICES, WannConfig
from ..core import activations, fastmath, jitcache
from ..core.network import Plan
from . import Task

_dynamics = numba.njit(cache=True, inline="always")(env.step_dynamics)
_reward = numba.njit(cache=True, inline="always")(env.step_reward)
_act = numba.njit(cache=True, inline="always")(activations.numba_scalar())
#: ``apply_scalar`` as a plain call for the lane kernel: LLVM inlines it into each branch of
#: :func:`_activate_lanes` and folds the constant id all the same, and the kernel compiles in
#: a third of the time numba's own inlining of eleven copies takes (~8 s instead of ~25 s).
#: Not cached by itself: it is compiled only into kernels that are.
_act_call = numba.njit(activations.numba_scalar())

#: The ``swingup_math`` values, as the config validates them: ``'libm'`` (glibc's functions,
#: the config's default) or ``'fast'`` (:mod:`src.core.fastmath`'s, vectorised over lanes;
#: swing-up's task file sets it).
MATH: tuple[str, ...] = CHOICES["swingup_math"]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _act_fast(act_id, x):
    """``apply_scalar`` with ``swingup_math = 'fast'``: tanh, sigmoid, sin, cos and the
    Gaussian with the formulas of ``activations.ROWS`` through :mod:`src.core.fastmath`."""
    if act_id == activations.TANH:
        return fastmath.tanh(x)
    if act_id == activations.SIGMOID:
        return (fastmath.tanh(0.5 * x) + 1.0) * 0.5
    if act_id == activations.SIN:
        return fastmath.sin(math.pi * x)
    if act_id == activations.COS:
        return fastmath.cos(math.pi * x)
    if act_id == activations.GAUSSIAN:
        return fastmath.exp(-0.5 * x * x)
    return _act(act_id, x)


@numba.extending.intrinsic
def _no_vectorize(typingctx):
    """An empty ``asm sideeffect``: LLVM cannot vectorise a loop that contains it.

    Where numba has a vector maths library (Intel SVML), it vectorises loops of ``math.sin``
    and friends into that library's routines, which round differently from the scalar libm
    calls of the reference kernel. Every lane loop that calls libm has this in its body, so
    each lane calls the same scalar function whatever the installation. It emits no
    instruction.
    """

    def codegen(context, builder, signature, args):
        builder.call(ir.InlineAsm(ir.FunctionType(ir.VoidType(), []), "", "", True), [])
        return context.get_dummy_value()

    return numba.types.void(), codegen


@numba.njit(cache=True)
def network_step(values, order, act, indptr, indices, coef, w, fast):
    """Compute every planned node in place in ``values`` (slots: bias, inputs, ...);
    ``fast``: ``swingup_math = 'fast'`` (:func:`_act_fast`)."""
    for i in range(order.shape[0]):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += coef[k] * values[indices[k]]
        values[order[i]] = _act_fast(act[i], w * s) if fast else _act(act[i], w * s)


@numba.njit(cache=True)
def _swingup_rollouts_reference(
    order, act, indptr, indices, coef, out_slot, n_nodes, weights, states, max_steps, x_limit, fast
):
    """The rollouts one after the other: what :func:`_swingup_rollouts` must equal bit for bit.

    The search's kernel until the lane kernel replaced it; kept as the executable definition
    of a rollout (arguments and result as :func:`_swingup_rollouts`).
    """
    n = weights.shape[0]
    returns = np.zeros(n)
    steps = 0
    values = np.zeros(n_nodes)
    for r in range(n):
        values[:] = 0.0
        values[0] = 1.0
        x, x_dot, th, th_dot = states[r, 0], states[r, 1], states[r, 2], states[r, 3]
        total = 0.0
        for _ in range(max_steps):
            values[1] = x
            values[2] = x_dot
            values[3] = math.cos(th)
            values[4] = math.sin(th)
            values[5] = th_dot
            network_step(values, order, act, indptr, indices, coef, weights[r], fast)
            a = values[out_slot]
            if not math.isfinite(a):
                total = -math.inf
                break
            x, x_dot, th, th_dot = _dynamics(x, x_dot, th, th_dot, a)
            total += _reward(x, th)
            steps += 1
            if x < -x_limit or x > x_limit:
                break
        returns[r] = total
    return returns, steps


@numba.njit(cache=True)
def _swingup_trajectory(
    order, act, indptr, indices, coef, out_slot, n_nodes, w, state, max_steps, x_limit, fast
):
    """One rollout of :func:`_swingup_rollouts_reference`, recording every state (pictures).

    Operation for operation the reference's inner loop, so the rewards add up to the return
    the search's kernels give (tested); a separate kernel, so the search's cost nothing.

    Returns:
        (states (steps + 1, 4): x, x_dot, theta, theta_dot from the initial state on,
         rewards (steps,), finite: False if the network's output was NaN/inf, which ended
         the rollout, with return -inf, after ``steps`` steps).
    """
    states = np.zeros((max_steps + 1, 4))
    rewards = np.zeros(max_steps)
    values = np.zeros(n_nodes)
    values[0] = 1.0
    x, x_dot, th, th_dot = state[0], state[1], state[2], state[3]
    states[0, 0], states[0, 1], states[0, 2], states[0, 3] = x, x_dot, th, th_dot
    steps = 0
    finite = True
    for _ in range(max_steps):
        values[1] = x
        values[2] = x_dot
        values[3] = math.cos(th)
        values[4] = math.sin(th)
        values[5] = th_dot
        network_step(values, order, act, indptr, indices, coef, w, fast)
        a = values[out_slot]
        if not math.isfinite(a):
            finite = False
            break
        x, x_dot, th, th_dot = _dynamics(x, x_dot, th, th_dot, a)
        rewards[steps] = _reward(x, th)
        steps += 1
        states[steps, 0], states[steps, 1], states[steps, 2], states[steps, 3] = (
            x,
            x_dot,
            th,
            th_dot,
        )
        if x < -x_limit or x > x_limit:
            break
    return states[: steps + 1], rewards[:steps], finite


#: With this many live lanes or fewer the lane kernel finishes them one by one: a lane loop
#: over one or two lanes costs more than the scalar code (twice as much for one lane).
SOLO_LANES = 2


@numba.njit
def _continue_alone(
    values,
    order,
    act,
    indptr,
    indices,
    coef,
    out_slot,
    w,
    x,
    x_dot,
    th,
    th_dot,
    total,
    steps_left,
    x_limit,
    fast,
):
    """Run one rollout on from state (x, x_dot, th, th_dot) and return so far ``total``.

    The inner loop of :func:`_swingup_rollouts_reference`, operation for operation, for at
    most ``steps_left`` steps; ``values`` is a scratch (n_nodes,) array with the bias set.
    Compiled into the lane kernel only, so not cached by itself.

    Returns:
        (the rollout's return, steps simulated here).
    """
    steps = 0
    for _ in range(steps_left):
        values[1] = x
        values[2] = x_dot
        values[3] = math.cos(th)
        values[4] = math.sin(th)
        values[5] = th_dot
        network_step(values, order, act, indptr, indices, coef, w, fast)
        a = values[out_slot]
        if not math.isfinite(a):
            return -math.inf, steps
        x, x_dot, th, th_dot = _dynamics(x, x_dot, th, th_dot, a)
        total += _reward(x, th)
        steps += 1
        if x < -x_limit or x > x_limit:
            break
    return total, steps


@numba.njit(cache=True, inline="always")
def _activate_lanes(act_id, values, slot, w, m, mv, fast):
    """``values[slot, j] = act(w[j] * values[slot, j])`` for the live lanes ``j < m``.

    One branch per activation, each calling ``apply_scalar`` with a constant id, so the lane
    loop is the bare activation. The exact ones (multiplies, compares, sign flips) vectorise
    and run over ``mv`` lanes (``m`` rounded up to the vector width; lanes past ``m`` are dead
    and never read); the libm ones are one scalar call per live lane (:func:`_no_vectorize`).
    An id not listed takes the generic loop: as exact, only slower (a row added to
    ``activations.ROWS`` needs no branch here to be correct). ``fast`` (``swingup_math =
    'fast'``): tanh, sigmoid, sin, cos and the Gaussian by :mod:`src.core.fastmath`, no
    call, so their loops vectorise too; each branch spells out :func:`_act_fast`'s formula
    (bit for bit the same, tested through the reference kernel): inlining ``_act_fast``
    itself into each branch made the kernel compile in ~35 CPU-s instead of ~7.
    """
    if act_id == activations.LINEAR:
        for j in range(mv):
            values[slot, j] = _act_call(activations.LINEAR, w[j] * values[slot, j])
    elif act_id == activations.INVERSE:
        for j in range(mv):
            values[slot, j] = _act_call(activations.INVERSE, w[j] * values[slot, j])
    elif act_id == activations.ABS:
        for j in range(mv):
            values[slot, j] = _act_call(activations.ABS, w[j] * values[slot, j])
    elif act_id == activations.RELU:
        for j in range(mv):
            values[slot, j] = _act_call(activations.RELU, w[j] * values[slot, j])
    elif act_id == activations.STEP:
        for j in range(mv):
            values[slot, j] = _act_call(activations.STEP, w[j] * values[slot, j])
    elif fast and act_id == activations.TANH:
        for j in range(mv):
            values[slot, j] = fastmath.tanh(w[j] * values[slot, j])
    elif fast and act_id == activations.SIGMOID:
        for j in range(mv):
            values[slot, j] = (fastmath.tanh(0.5 * (w[j] * values[slot, j])) + 1.0) * 0.5
    elif fast and act_id == activations.SIN:
        for j in range(mv):
            values[slot, j] = fastmath.sin(math.pi * (w[j] * values[slot, j]))
    elif fast and act_id == activations.COS:
        for j in range(mv):
            values[slot, j] = fastmath.cos(math.pi * (w[j] * values[slot, j]))
    elif fast and act_id == activations.GAUSSIAN:
        for j in range(mv):
            x = w[j] * values[slot, j]
            values[slot, j] = fastmath.exp(-0.5 * x * x)
    elif act_id == activations.TANH:
        for j in range(m):
            _no_vectorize()
            values[slot, j] = _act_call(activations.TANH, w[j] * values[slot, j])
    elif act_id == activations.SIN:
        for j in range(m):
            _no_vectorize()
            values[slot, j] = _act_call(activations.SIN, w[j] * values[slot, j])
    elif act_id == activations.SIGMOID:
        for j in range(m):
            _no_vectorize()
            values[slot, j] = _act_call(activations.SIGMOID, w[j] * values[slot, j])
    elif act_id == activations.COS:
        for j in range(m):
            _no_vectorize()
            values[slot, j] = _act_call(activations.COS, w[j] * values[slot, j])
    elif act_id == activations.GAUSSIAN:
        for j in range(m):
            _no_vectorize()
            values[slot, j] = _act_call(activations.GAUSSIAN, w[j] * values[slot, j])
    else:
        for j in range(m):
            _no_vectorize()
            values[slot, j] = _act_call(act_id, w[j] * values[slot, j])


@numba.njit(cache=True, error_model="numpy")
def _swingup_rollouts(
    order, act, indptr, indices, coef, out_slot, n_nodes, weights, states, max_steps, x_limit, fast
):
    """Every rollout of one genome, stepped together as lanes.

    Args:
        order, act, indptr, indices: the :class:`Plan`'s arrays.
        coef: (n_edges,) per-edge coefficients.
        out_slot: value slot of the output (the force).
        n_nodes: value slots of the network.
        weights: (n,) shared weight of each rollout.
        states: (n, 4) initial states.
        max_steps: episode length limit.
        x_limit: the track half-length; a cart beyond it ends the episode.

    Returns:
        (returns (n,), env steps simulated), equal with ``==`` to
        :func:`_swingup_rollouts_reference`: a network output that is NaN or infinite ends
        its rollout with -inf (that step not counted), a cart beyond ``x_limit`` ends it after
        the step's reward.

    ``values[slot, lane]`` holds the network, lanes innermost: a node's weighted sum is one
    vectorised loop over the lanes per in-edge, edges in plan order starting from 0.0, so
    each lane adds the same products in the same order as the reference. Those loops run
    over the live lanes rounded up to a multiple of 4 (no scalar remainder; the extra lanes
    are dead or unused columns, computed and never read). Live lanes are ``0 .. m-1``; a
    lane whose episode ends takes the state of the last live lane, and the last
    ``SOLO_LANES`` finish one by one (:func:`_continue_alone`).

    The physics is per lane and computes the next step's inputs (the reward's ``cos`` of the
    new angle is reused). ``error_model="numpy"`` drops numba's division-by-zero checks (the
    dynamics' denominators are never zero), which lets LLVM fuse the dynamics' ``sin`` and
    ``cos`` into one ``sincos`` call: the same results, one libm call less. The dynamics take
    ``sin`` and ``cos`` of the angle from the step's inputs (``step_dynamics``' ``s`` and
    ``c``), which hold exactly what it would compute: one ``sincos`` call a step fewer.
    """
    n = weights.shape[0]
    returns = np.zeros(n)
    values = np.zeros((n_nodes, (n + 3) & ~3))
    values[0, :] = 1.0
    rollout = np.arange(n)
    w = np.zeros(values.shape[1])
    w[:n] = weights
    x = states[:, 0].copy()
    x_dot = states[:, 1].copy()
    th = states[:, 2].copy()
    th_dot = states[:, 3].copy()
    total = np.zeros(n)
    for j in range(n):
        _no_vectorize()
        values[1, j] = x[j]
        values[2, j] = x_dot[j]
        values[3, j] = math.cos(th[j])
        values[4, j] = math.sin(th[j])
        values[5, j] = th_dot[j]
    m = n
    steps = 0
    for t in range(max_steps):
        if m <= SOLO_LANES:
            solo = np.zeros(n_nodes)
            solo[0] = 1.0
            for j in range(m):
                total[j], solo_steps = _continue_alone(
                    solo,
                    order,
                    act,
                    indptr,
                    indices,
                    coef,
                    out_slot,
                    w[j],
                    x[j],
                    x_dot[j],
                    th[j],
                    th_dot[j],
                    total[j],
                    max_steps - t,
                    x_limit,
                    fast,
                )
                steps += solo_steps
            break
        mv = (m + 3) & ~3
        for i in range(order.shape[0]):
            slot = order[i]
            for j in range(mv):
                values[slot, j] = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                c = coef[k]
                src = indices[k]
                for j in range(mv):
                    values[slot, j] += c * values[src, j]
            _activate_lanes(act[i], values, slot, w, m, mv, fast)
        # Downwards, so the lane swapped into j (the last live one) has already been stepped.
        for j in range(m - 1, -1, -1):
            _no_vectorize()
            a = values[out_slot, j]
            if math.isfinite(a):
                # values[4, j], values[3, j]: sin and cos of th[j], the inputs of this step
                x1, x_dot1, th1, th_dot1 = _dynamics(
                    x[j], x_dot[j], th[j], th_dot[j], a, values[4, j], values[3, j]
                )
                total[j] += _reward(x1, th1)
                steps += 1
                x[j], x_dot[j], th[j], th_dot[j] = x1, x_dot1, th1, th_dot1
                values[1, j] = x1
                values[2, j] = x_dot1
                values[3, j] = math.cos(th1)
                values[4, j] = math.sin(th1)
                values[5, j] = th_dot1
                if not (x1 < -x_limit or x1 > x_limit):
                    continue
            else:
                total[j] = -math.inf
            returns[rollout[j]] = total[j]
            m -= 1
            rollout[j], w[j], total[j] = rollout[m], w[m], total[m]
            x[j], x_dot[j], th[j], th_dot[j] = x[m], x_dot[m], th[m], th_dot[m]
            for q in range(1, 6):  # its inputs for the next step
                values[q, j] = values[q, m]
    for j in range(m):
        returns[rollout[j]] = total[j]
    return returns, steps


#: Every file whose code the kernels below compile: their disk cache is keyed on these.
KERNEL_SOURCES: tuple[Path, ...] = (
    Path(__file__),
    Path(activations.__file__),
    Path(env.__file__),
    Path(fastmath.__file__),
)
jitcache.key_on_sources(
    (network_step, _swingup_rollouts_reference, _swingup_rollouts, _swingup_trajectory),
    KERNEL_SOURCES,
)


class SwingUp(Task):
    """Swing up a pole on a cart and balance it: 5 inputs, 1 output (force)."""

    name = "swingup"
    n_inputs = 5
    n_outputs = 1

    def __init__(self, episode_steps: int = env.MAX_EPISODE_STEPS, math: str = "libm") -> None:
        if math not in MATH:
            raise ValueError(
                f"swingup_math must be one of {', '.join(map(repr, MATH))}, not {math!r}"
            )
        self.episode_steps = episode_steps
        #: ``swingup_math``: ``'fast'`` computes the libm activations with
        #: :mod:`src.core.fastmath`.
        self.math = math
        self._state_cache: dict[int, np.ndarray] = {}

    def _states(self, seeds: np.ndarray) -> np.ndarray:
        rows = []
        for s in seeds.tolist():
            if s not in self._state_cache:
                if len(self._state_cache) > 4096:
                    self._state_cache.clear()
                self._state_cache[s] = env.initial_state(np.random.default_rng(s))
            rows.append(self._state_cache[s])
        return np.stack(rows) if rows else np.zeros((0, 4))

    def kernel_args(
        self,
        plan: Plan,
        weights: np.ndarray,
        seeds: np.ndarray,
        edge_coef: np.ndarray | None = None,
    ) -> tuple:
        """The arguments of the rollout kernels (lanes or reference) for one :meth:`rollouts`."""
        coef = np.ones(plan.n_edges) if edge_coef is None else np.asarray(edge_coef, np.float64)
        return (
            plan.order,
            plan.act,
            plan.indptr,
            plan.indices,
            coef,
            int(plan.output_slots[0]),
            plan.n_nodes,
            np.asarray(weights, dtype=np.float64),
            self._states(np.asarray(seeds)),
            self.episode_steps,
            env.X_LIMIT,
            self.math == "fast",
        )

    def rollouts(
        self,
        plan: Plan,
        weights: np.ndarray,
        seeds: np.ndarray,
        edge_coef: np.ndarray | None = None,
    ) -> tuple[np.ndarray, int]:
        returns, steps = _swingup_rollouts(*self.kernel_args(plan, weights, seeds, edge_coef))
        return returns, int(steps)

    def trajectory(
        self, plan: Plan, weight: float, seed: int, edge_coef: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The states and rewards of the rollout :meth:`rollouts` runs for (weight, seed).

        Returns:
            (states (steps + 1, 4): x, x_dot, theta, theta_dot, the initial state first;
             rewards (steps,)); a rollout ended by a NaN/inf output has a last reward of -inf
            (after its steps' states), as its return is -inf.
        """
        args = self.kernel_args(plan, [weight], np.array([seed]), edge_coef)
        states, rewards, finite = _swingup_trajectory(
            *args[:7], float(weight), args[8][0], *args[9:]
        )
        if not finite:
            rewards = np.append(rewards, -np.inf)
        return states, rewards


def build(config: WannConfig) -> SwingUp:
    return SwingUp(config.episode_steps or env.MAX_EPISODE_STEPS, config.swingup_math)
