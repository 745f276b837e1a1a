"""Loading a finished run (or a genome file) and writing its whole report.

:func:`load_target` reads the genome, the run config and ``stats.csv``; :func:`write_report`
runs the analyses (:mod:`src.report.control` or :mod:`src.report.classify`), draws the
pictures (:mod:`src.report.figures`) and writes the files (:mod:`src.report.writing`).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from .. import config as cfg
from ..core.genome import HIDDEN, Genome
from ..export import GenomeFileError, read_genome
from ..parallel import Executor
from ..search import history
from ..tasks import io_names, make_task
from . import figures, growth, html, netdraw, video, writing
from .control import Budget, NetworkResult, analyse, fixed_topology
from .episodes import Net, Runner, episode_seeds
from .progress import Progress


class ReportError(ValueError):
    """Bad input for the report: the message says what and how to fix it."""


@dataclass(frozen=True)
class Target:
    """What the report is about.

    Attributes:
        genome: the champion.
        config: the run's config (with ``--set`` overrides).
        genome_path: the genome file read.
        run_dir: the run folder, or ``None`` for a lone genome file.
        info: the extra fields of the genome JSON (generation, mean_reward, ...).
        stats: ``stats.csv`` columns, or ``None`` when there is none.
    """

    genome: Genome
    config: cfg.WannConfig
    genome_path: Path
    run_dir: Path | None
    info: dict[str, object]
    stats: dict[str, np.ndarray] | None


def load_target(path: str, task: str | None = None, sets: list[str] | None = None) -> Target:
    """Read a run folder (``best_genome.json``, ``config.toml``, ``stats.csv``) or a genome file
    (this project's JSON or the authors' ``.out``, :func:`src.export.read_genome`).

    The task comes from ``task``, else the genome JSON's ``task`` field, else the run's config
    (a ``.out`` file names none).
    Raises :class:`ReportError` (or :class:`src.config.ConfigError`) naming the problem.
    """
    p = Path(path)
    if p.is_dir():
        genome_path, run_dir = p / "best_genome.json", p
        if not genome_path.is_file():
            raise ReportError(f"{path!r} has no best_genome.json; is it a finished run folder?")
    elif p.is_file():
        genome_path = p
        beside = p.parent
        run_dir = beside if (beside / "config.toml").is_file() else None
    else:
        raise ReportError(f"{path!r} is neither a run folder nor a genome file")
    config_path = run_dir / "config.toml" if run_dir else None
    values = cfg.read_toml(config_path) if config_path and config_path.is_file() else {}
    if p.is_dir() and not values:  # the run's settings unknown: a report of other episodes
        raise ReportError(
            f"{path!r} has no usable config.toml (missing, not a file, or without config "
            f"keys), so its "
            f"settings are unknown; report the genome alone: python -m src.report "
            f"{genome_path} --task TASK"
        )
    try:
        loaded = read_genome(genome_path, task or values.get("task"))
    except GenomeFileError as exc:
        raise ReportError(str(exc)) from None
    genome = loaded.genome
    name = task or loaded.task or values.get("task")
    if not name:
        raise ReportError(
            f"{str(genome_path)!r} does not say its task; pass --task ({', '.join(cfg.TASK_NAMES)}"
            ", gym:ENV_ID, module:factory ...)"
        )
    cfg.check_task(name)
    if values and values.get("task", name) != name:
        raise ReportError(f"--task {name!r} but {config_path} is a {values['task']!r} run")
    if values:
        values["task"] = name
        config = cfg.from_mapping(values, source=str(config_path))
    else:
        config = cfg.build(name)
    for item in sets or []:
        key, value = cfg.parse_set(item)
        config = cfg.from_mapping({**config.to_dict(), key: value}, source="--set")
    task_obj = make_task(config)
    if (genome.n_inputs, genome.n_outputs) != (task_obj.n_inputs, task_obj.n_outputs):
        raise ReportError(
            f"{str(genome_path)!r} has {genome.n_inputs} inputs and {genome.n_outputs} outputs; "
            f"a {config.task} network has {task_obj.n_inputs} and {task_obj.n_outputs}"
        )
    stats_path = run_dir / "stats.csv" if run_dir else None
    try:
        stats = figures.read_stats(stats_path) if stats_path and stats_path.is_file() else None
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    return Target(genome, config, genome_path, run_dir, loaded.info, stats)


def _draw_network(
    net: Net,
    stem: Path,
    title: str,
    in_names: tuple[str, ...] | None,
    out_names: tuple[str, ...] | None,
    log: Callable[[str], None],
    weights: np.ndarray | None = None,
) -> bool:
    """``stem.png/.svg/.pdf`` by Graphviz; without ``dot`` installed, a line saying so."""
    try:
        netdraw.draw(net, stem, title, in_names, out_names, weights)
    except netdraw.GraphvizMissing as exc:
        log(f"no {stem.name} picture: {exc}")
        return False
    return True


def _draw_growth(
    target: Target,
    stem: Path,
    in_names: tuple[str, ...] | None,
    out_names: tuple[str, ...] | None,
    log: Callable[[str], None],
) -> bool:
    """``stem.png/.svg/.pdf``: the champions kept in ``RUN/history`` and the final one."""
    assert target.run_dir is not None
    kept = history.read(target.run_dir)
    if not kept:
        log(f"no {target.run_dir / history.FOLDER}: no picture of the network over generations")
        return False
    final = int(target.info.get("snapshot_generation", kept[-1][0]))
    if target.stats is not None and len(target.stats.get("generation", [])):
        final = int(np.nanmax(target.stats["generation"]))
    by_generation = {g: genome for g, genome, _ in kept}
    chosen = growth.pick(list(by_generation), final)
    snapshots = [(f"generation {g}", by_generation[g]) for g in chosen]
    snapshots.append((f"final (generation {final})", target.genome))
    panels = growth.panels_of(snapshots, in_names, out_names)
    try:
        growth.draw(panels, stem, f"{target.config.task}: the champion over generations")
    except netdraw.GraphvizMissing as exc:
        log(f"no {stem.name} picture: {exc}")
        return False
    return True


def _draw_digits(net: Net, result, data, out: Path) -> None:
    """``digits.*`` (each digit's input pixels) and ``confusion.*`` (per weight, ensemble)."""
    from . import digits

    test_x, test_y = np.asarray(data.test_x), np.asarray(data.test_y)
    means = np.stack([test_x[test_y == d].mean(axis=0) for d in range(10)])
    digits.draw_masks(digits.subnetworks(net), out / "digits", means)
    labels = [f"w = {w:g}" for w in result.search_weights] + ["ensemble"]
    digits.draw_confusion(result.confusion, labels, out / "confusion", len(test_y))


def _champion_line(t: Target) -> str:
    g = t.genome
    net = Net.of(g)
    used_hidden = int(np.sum(g.node_kind[net.plan.order] == HIDDEN))
    line = (
        f"Champion `{t.genome_path}`: {used_hidden} hidden nodes and {net.plan.n_edges} "
        f"connections in use ({g.n_nodes} nodes, {g.n_connections} enabled connections in the "
        "genome)"
    )
    if "generation" in t.info and "mean_reward" in t.info:
        line += (
            f", found in generation {t.info['generation']} with mean reward "
            f"{float(t.info['mean_reward']):.1f} over the search's weights"
        )
    return line + "."


def write_report(
    target: Target,
    out: Path,
    budget: Budget,
    executor: Executor,
    fixed_hidden: int = 8,
    command: str = "",
    log: Callable[[str], None] = print,
    progress: TextIO | None = sys.stderr,
    movies: video.VideoOptions | None = None,
) -> Path:
    """Analyse the champion (and the fixed topology), draw, write ``report.md`` and
    ``report.html``; returns ``report.md``.

    ``progress``: where long stages (the sweeps, the pictures) print ``stage: i/N, ~T left``
    (:mod:`src.report.progress`); ``None`` for silence. With ``movies``, also render the
    champion's episodes (``episodes.gif``, ``episodes.mp4`` and the page's player) where the
    task can.
    """
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    config = target.config
    runner = Runner(config, executor)
    net = Net.of(target.genome)
    task = config.task
    pictures: list[tuple[str, str]] = []
    in_names, out_names = io_names(config)
    drawing = Progress("pictures", 2, progress)
    drawn = _draw_network(net, out / "network", f"{task} champion", in_names, out_names, log)
    if drawn:
        pictures.append(("network.png", "The champion, laid out in layers by Graphviz dot"))
    drawing.step()
    if target.run_dir is not None and _draw_growth(
        target, out / "growth", in_names, out_names, log
    ):
        pictures.append(("growth.png", "The champion over generations, one layout for all"))
    drawing.step()
    if target.stats is not None and len(target.stats.get("generation", [])):
        figures.learning_curves(target.stats, out / "curves.png", f"{task} search")
        pictures.append(("curves.png", "The search: reward and median connections"))
    else:
        log("no stats.csv beside the genome: no learning curves")

    if task == "mnist256":
        from .classify import analyse_mnist  # MNIST data only when needed

        result = analyse_mnist(net, runner, budget, out, log, progress)
        figures.sweep_plot(
            [
                (
                    "training sample (chooses w*)",
                    result.sweep_weights,
                    100 * result.sweep_selection,
                    np.full(len(result.sweep_weights), np.nan),
                    result.w_tuned,
                ),
                (
                    "test set",
                    result.sweep_weights,
                    100 * result.sweep_test,
                    np.full(len(result.sweep_weights), np.nan),
                    math.nan,
                ),
            ],
            out / "sweep.png",
            ylabel="accuracy (%)",
            title="mnist256: accuracy against the shared weight",
            marks=result.search_weights,
        )
        drawn = _draw_network(
            net,
            out / "network_trained",
            "mnist256 champion, trained weights",
            None,
            out_names,
            log,
            weights=result.tuned,
        )
        _draw_digits(net, result, make_task(config).data, out)
        pictures.append(("digits.png", "The pixels that drive each digit's output"))
        pictures.append(("confusion.png", "Confusion matrices on the test set"))
        writing.mnist_files(result, out)
        w_tuned, sweep = result.w_tuned, None
        table = writing.mnist_table(result)
        notes = [
            f"Test accuracy on all 10,000 test images. The tuned shared weight is chosen on "
            f"{min(10_000, len(make_task(config).data.train_y))} training images; the trained "
            f"weights are w* plus per-connection offsets trained by PEPG on minus the "
            f"cross-entropy of {budget.tune_episodes} training batch(es) of "
            f"{config.batch_size} images per generation. No fixed-topology baseline for MNIST.",
        ]
    else:
        results: list[NetworkResult] = [
            analyse(net, "wann", "WANN", 0, runner, budget, out, log, progress=progress)
        ]
        if fixed_hidden > 0:
            fixed = Net.of(fixed_topology(net.genome.n_inputs, net.genome.n_outputs, fixed_hidden))
            results.append(
                analyse(
                    fixed,
                    "fixed",
                    "fixed topology",
                    1,
                    runner,
                    budget,
                    out,
                    log,
                    tune_from=0.0,
                    progress=progress,
                )
            )
        figures.sweep_plot(
            [
                (
                    r.label,
                    r.sweep_weights,
                    np.array([s.mean for s in r.sweep]),
                    np.array([s.sd for s in r.sweep]),
                    r.w_tuned,
                )
                for r in results
            ],
            out / "sweep.png",
            ylabel=f"episode return (mean ± sd, {budget.episodes} episodes)",
            title=f"{task}: return against the shared weight",
            marks=config.weights,
        )
        drawn = _draw_network(
            net,
            out / "network_tuned",
            f"{task} champion, tuned weights",
            in_names,
            out_names,
            log,
            weights=results[0].tuned,
        )
        writing.control_files(task, results, out)
        w_tuned, sweep = results[0].w_tuned, (results[0].sweep_weights, results[0].sweep)
        table = writing.control_table(task, results)
        steps = getattr(make_task(config), "episode_steps", None) or config.episode_steps
        steps_text = f"up to {steps} steps each" if steps else "full episodes"
        notes = [
            f"Each cell: mean ± sd of the episode return over the same {budget.episodes} "
            f"episodes ({steps_text}; seeds from report seed {budget.seed}, never the "
            "search's). Random weights: every connection its own weight ~ U(-2, 2) per "
            "episode. Random shared weight: one w ~ U(-2, 2) per episode. Tuned shared weight: "
            f"the best of {len(results[0].sweep_weights)} weights over [-2, 2], 0 left out "
            f"(each on {budget.episodes} "
            "sweep episodes of their own). Tuned weights: w* plus per-connection offsets "
            f"trained by PEPG ({budget.tune_popsize} candidates x {budget.tune_episodes} "
            f"episodes x {budget.tune_generations} generations).",
        ]
        if fixed_hidden > 0:
            notes.append(
                f"Fixed topology: bias and {net.genome.n_inputs} inputs fully connected to "
                f"{fixed_hidden} tanh nodes, those and the bias to the outputs "
                f"({results[1].net.n_params} connections), analysed the same way, except that its "
                "tuned weights are trained from 0 like an ordinary network's (from its w* every "
                "tanh node saturates and PEPG stalls)."
            )
    pictures.append(("sweep.png", "Shared-weight sweep over [-2, 2]"))
    if drawn:
        pictures.append(
            (
                "network_trained.png" if task == "mnist256" else "network_tuned.png",
                "The champion with its trained weights (blue negative, red positive)",
            )
        )
    player, clip_lines = "", []
    if movies is not None and video.can_render(config):
        seed = int(episode_seeds(budget.seed, "video", 1)[0])
        rendered = video.render_report(config, net, config.weights, w_tuned, seed, out, movies, log)
        data = html.movie_data(rendered, movies.fps, sweep)
        player = html.player_html(data, [p.name for p in rendered.files])
        clip_lines = [
            f"![The champion's episode at the search's weights and w*]({rendered.files[0].name})",
            "",
            f"The champion's episode (seed {seed}) at the search's weights and w*: "
            f"[{rendered.files[0].name}]({rendered.files[0].name}), "
            f"[{rendered.files[1].name}]({rendered.files[1].name}); every weight of a grid "
            "over [-2, 2] behind a slider in `report.html`.",
            "",
        ]
    elif movies is not None:
        log(f"{task}: no episodes to render")
    seconds = time.perf_counter() - start
    budget_line = (
        f"Budget: {json.dumps(asdict(budget))}; "
        f"{runner.episodes} episodes, {runner.env_steps} environment steps in {seconds:.0f} s "
        f"on {executor.describe()}."
    )
    lines = [
        f"# WANN report: {task}",
        "",
        _champion_line(target),
        "",
        table,
        "",
        *notes,
        "",
        *clip_lines,
        *(f"![{caption}]({name})" + "\n" for name, caption in pictures),
        "## How it was made",
        "",
        "```sh",
        command or "python -m src.report ...",
        "```",
        "",
        budget_line,
        "",
        "Files: `table.csv` (these numbers and the paper's), `sweep.csv`, `tuned_weights.json` "
        "(the trained weight of each connection), `tune_*.npz` (PEPG checkpoints: rerunning "
        "the command resumes or reuses them), the pictures, `report.html` (all of it in one "
        "page that works offline).",
        "",
    ]
    report = out / "report.md"
    writing.write_text(report, "\n".join(lines))
    html.write_page(
        out / "report.html",
        f"WANN report: {task}",
        _champion_line(target),
        table,
        notes,
        pictures,
        command or "python -m src.report ...",
        budget_line,
        player,
    )
    log(
        f"report: {report} and report.html ({runner.episodes} episodes, "
        f"{runner.env_steps / 1e6:.1f} M steps, {seconds:.1f} s)"
    )
    return report
