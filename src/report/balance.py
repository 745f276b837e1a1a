"""Does a swing-up champion balance the pole, or keep it swinging round the top?

``python -m src.report.balance FOLDER [--genome G] [--episodes N] [--seed S]``

A swing-up return near 700 can be two different controllers: one that swings the pole up
and holds it (return ~850-920: every step after the swing-up earns ~1) and one that never
holds it and keeps it circling or rocking through the top (~700-780: ~0.75 a step). The
report's table cannot tell them apart; this does. For the report's tuned shared weight and
its tuned weights (``tuned_weights.json``, network ``wann``) it runs episodes in the
gymnasium env (:class:`envs.swingup.CartPoleSwingUpEnv`, the network by
:func:`src.core.network.forward`) and prints the mean return and the **upright share**: the
fraction of steps from step 300 on (after any swing-up) with the pole within ~26 degrees of
upright (cos theta > 0.9). A balancing controller reads ~1.0, a swinging one ~0.3-0.8.

FOLDER holds the report's ``tuned_weights.json``; the champion is ``--genome``, else the
``best_genome.json`` beside it, else the one in the folder above (a run folder's
``report/``). The episodes are a stream of their own of the report seed (never the
search's or the table's), so the returns are close to, not equal to, the table's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: steps before the upright share is counted (a swing-up takes ~80-200)
SETTLE_STEPS = 300
#: cos(theta) above this counts as upright (theta within ~25.8 degrees of the top)
UPRIGHT_COS = 0.9


@dataclass(frozen=True)
class Balance:
    """Mean return and upright share over the episodes of one controller."""

    mean_return: float
    upright: float


def episode(plan, weight: float, coef: np.ndarray | None, seed: int) -> tuple[float, float]:
    """(return, upright share from step :data:`SETTLE_STEPS` on) of one episode."""
    from envs.swingup import CartPoleSwingUpEnv

    from ..core.network import forward

    env = CartPoleSwingUpEnv()
    obs, _ = env.reset(seed=int(seed))
    total, cosines = 0.0, []
    done = False
    while not done:
        action = forward(plan, obs[None, :], weight, coef)[0]
        obs, reward, terminated, truncated, _ = env.step(action)
        total += reward
        cosines.append(np.cos(env.state[2]))
        done = terminated or truncated
    late = np.array(cosines[SETTLE_STEPS:])
    return total, float((late > UPRIGHT_COS).mean()) if late.size else 0.0


def connection_weights(net, tuned: object) -> np.ndarray:
    """The trained weight of each connection the plan of ``net`` (a
    :class:`~src.report.episodes.Net`) uses, in :attr:`Net.conns` order, from the ``wann``
    entry of a report's ``tuned_weights.json``, matched by innovation number and checked
    against each connection's source and destination.

    Raises:
        ValueError: a malformed entry, or one that is not this genome's.
    """
    genome = net.genome
    if not isinstance(tuned, dict) or not isinstance(tuned.get("connections"), list):
        raise ValueError("its 'wann' entry has no list of connections")
    by_innovation = {}
    for c in tuned["connections"]:
        try:
            key = int(c["innovation"])
            by_innovation[key] = (int(c["source"]), int(c["destination"]), float(c["weight"]))
            if not math.isfinite(by_innovation[key][2]):
                raise ValueError
        except (TypeError, KeyError, ValueError):
            raise ValueError(f"a malformed connection entry: {c!r}"[:200]) from None
    weights, wrong = [], []
    for c in net.conns:
        src, dst, innovation = (
            int(a[c]) for a in (genome.conn_src, genome.conn_dst, genome.conn_innov)
        )
        entry = by_innovation.get(innovation)
        if entry is None or entry[:2] != (src, dst):
            wrong.append(innovation)
        else:
            weights.append(entry[2])
    if wrong or len(by_innovation) != len(net.conns):
        raise ValueError(
            f"its connections are not this genome's ({len(by_innovation)} in the file, "
            f"{len(net.conns)} in the genome; innovations {wrong[:5]} missing or elsewhere)"
        )
    return np.array(weights)


def measure(genome, tuned: dict, episodes: int, seed: int) -> dict[str, Balance]:
    """:class:`Balance` at the tuned shared weight and with the tuned weights.

    ``tuned``: the ``wann`` entry of the report's ``tuned_weights.json``."""
    from .episodes import Net, episode_seeds

    net = Net.of(genome)
    trained = net.edge_coef(connection_weights(net, tuned))
    try:
        w_star = float(tuned["tuned_shared_weight"])
    except (TypeError, KeyError, ValueError):
        w_star = math.nan
    if not math.isfinite(w_star):
        raise ValueError("its 'wann' entry has no finite tuned_shared_weight number")
    seeds = episode_seeds(seed, "balance", episodes)
    out = {}
    # as the report runs its tuned episodes: w = 1, the trained weights as edge coefficients
    for name, weight, coef in (
        ("tuned shared weight", w_star, None),
        ("tuned weights", 1.0, trained),
    ):
        runs = np.array([episode(net.plan, weight, coef, s) for s in seeds])
        out[name] = Balance(float(runs[:, 0].mean()), float(runs[:, 1].mean()))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m src.report.balance",
        description=__doc__.split("\n\n")[0],
        epilog="examples:\n  python -m src.report.balance runs/s1/report\n"
        "  python -m src.report.balance /tmp/swing --genome docs/champions/swing.out",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("report", help="a swing-up report folder (with tuned_weights.json)")
    p.add_argument(
        "--genome",
        help="the champion (default: best_genome.json in the folder, else in the one above)",
    )
    p.add_argument("--episodes", type=int, default=10, help="episodes per controller (10)")
    p.add_argument("--seed", type=int, default=0, help="report seed of the episodes, >= 0 (0)")
    args = p.parse_args(argv)
    from ..export import GenomeFileError, read_genome

    report = Path(args.report)
    if args.genome:
        genome_path = Path(args.genome)
    elif (report / "best_genome.json").exists():
        genome_path = report / "best_genome.json"
    else:
        genome_path = report.parent / "best_genome.json"
    weights_file = report / "tuned_weights.json"
    try:
        if args.episodes < 1 or not 0 <= args.seed < 2**63:
            raise ValueError(
                "--episodes must be at least 1 and --seed at least 0 and fit a 64-bit integer"
            )
        tuned = json.loads(weights_file.read_text())
        if not isinstance(tuned, dict) or "wann" not in tuned:
            raise ValueError(f"{weights_file} has no 'wann' entry: not a report's file")
        genome = read_genome(genome_path, task="swingup").genome
        if genome.n_inputs != 5 or genome.n_outputs != 1:
            raise ValueError(f"{genome_path} is not a swing-up network (5 inputs, 1 output)")
        try:
            result = measure(genome, tuned["wann"], args.episodes, args.seed)
        except ValueError as exc:
            raise ValueError(f"{weights_file}: {exc}") from None
    except (OSError, json.JSONDecodeError, GenomeFileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, b in result.items():
        print(
            f"{name}: return {b.mean_return:.0f}, upright share {b.upright:.2f} "
            f"({'balances' if b.upright >= 0.9 else 'does not balance'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
