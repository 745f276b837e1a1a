"""``report.html``: the report as one self-contained page (no network: inline CSS and JS,
pictures as base64 ``data:`` URIs).

It holds what ``report.md`` holds (the table beside the paper's numbers, the notes, the
pictures, the command) and, when the report rendered episodes (:mod:`src.report.video`), a
player: a shared-weight slider over [-2, 2] that snaps to the nearest rendered weight (a
grid, 0 left out, plus the tuned w*), a time scrubber and play/pause. It shows the episode at
that weight, its return so far and in total, and the sweep's mean ± sd at that weight when
the sweep has the point. Each weight's frames are one sprite sheet (frames stacked
vertically, PNG or JPEG, whichever is smaller) drawn into a canvas.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .video import Movies, weight_label

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 1.5em auto;
       padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.95em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
th { background: #f3f3f3; }
tr.paper td { color: #666; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
code, pre { background: #f6f6f6; }
pre { padding: 0.6em; overflow-x: auto; }
#player { border: 1px solid #ddd; padding: 0.8em; display: inline-block; }
#player canvas { border: 1px solid #ccc; display: block; image-rendering: auto; }
#player label { display: block; margin-top: 0.5em; }
#player input[type=range] { width: 480px; }
.big { font-size: 1.2em; font-weight: 600; }
"""

JS = """
(function () {
  const M = JSON.parse(document.getElementById('movie-data').textContent);
  const canvas = document.getElementById('episode');
  const ctx = canvas.getContext('2d');
  const weight = document.getElementById('weight');
  const time = document.getElementById('time');
  const play = document.getElementById('play');
  let current = M.start, frame = 0, timer = null, loaded = 0;
  const sheets = M.episodes.map(function (e) {
    const img = new Image();
    img.onload = function () {
      loaded += 1;
      if (loaded === M.episodes.length) { document.body.dataset.ready = '1'; draw(); }
    };
    img.src = e.sheet;
    return img;
  });
  function nearest(w) {
    let best = 0;
    M.episodes.forEach(function (e, i) {
      if (Math.abs(e.weight - w) < Math.abs(M.episodes[best].weight - w)) best = i;
    });
    return best;
  }
  function fmt(v) { return v === null ? '-inf (NaN output)' : v.toFixed(1); }
  function draw() {
    const e = M.episodes[current];
    const f = Math.min(frame, e.running.length - 1);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, M.width, M.height);
    if (sheets[current].complete) {
      ctx.drawImage(sheets[current], 0, f * M.height, M.width, M.height,
                    0, 0, M.width, M.height);
    }
    document.getElementById('weight-value').textContent = e.label;
    document.getElementById('step').textContent =
      'step ' + e.steps[f] + (f === e.running.length - 1 ? ' (episode over)' : '');
    document.getElementById('running').textContent = fmt(e.running[f]);
    document.getElementById('total').textContent = fmt(e.total);
    document.getElementById('sweep').textContent = e.sweep || '';
    canvas.dataset.weight = String(e.weight);
    canvas.dataset.frame = String(f);
  }
  function longest() {
    return Math.max.apply(null, M.episodes.map(function (e) { return e.running.length; }));
  }
  time.max = String(longest() - 1);
  weight.addEventListener('input', function () {
    current = nearest(parseFloat(weight.value)); draw();
  });
  time.addEventListener('input', function () { frame = parseInt(time.value, 10); draw(); });
  function tick() {
    frame = (frame + 1) % longest();
    time.value = String(frame);
    draw();
  }
  function setPlaying(on) {
    if (timer !== null) { clearInterval(timer); timer = null; }
    if (on) timer = setInterval(tick, 1000 / M.fps);
    play.textContent = on ? 'pause' : 'play';
  }
  play.addEventListener('click', function () { setPlaying(timer === null); });
  weight.value = String(M.episodes[current].weight);
  draw();
  setPlaying(true);
})();
"""


def inline(text: str) -> str:
    """Escape for HTML, then Markdown's ``**bold**`` and ```code``` spans."""
    out = html.escape(text, quote=False)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def table_html(markdown: str) -> str:
    """A Markdown pipe table (as :mod:`src.report.writing` writes them) as an HTML table;
    rows of the paper's numbers get class ``paper``."""
    rows = [line.strip().strip("|").split("|") for line in markdown.strip().splitlines()]
    head, body = rows[0], [r for r in rows[2:]]
    parts = ["<table>", "<tr>" + "".join(f"<th>{inline(c.strip())}</th>" for c in head) + "</tr>"]
    for r in body:
        cls = ' class="paper"' if "paper" in r[0] and "this run" not in r[0] else ""
        parts.append(f"<tr{cls}>" + "".join(f"<td>{inline(c.strip())}</td>" for c in r) + "</tr>")
    parts.append("</table>")
    return "\n".join(parts)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def sheet_uri(frames: np.ndarray) -> str:
    """The frames stacked vertically as one image: PNG or JPEG (quality 80), the smaller."""
    img = Image.fromarray(np.concatenate(list(frames), axis=0))
    png, jpeg = io.BytesIO(), io.BytesIO()
    img.save(png, format="PNG", optimize=True)
    img.save(jpeg, format="JPEG", quality=80)
    if len(png.getvalue()) <= len(jpeg.getvalue()):
        return data_uri(png.getvalue(), "image/png")
    return data_uri(jpeg.getvalue(), "image/jpeg")


def _finite(v: float) -> float | None:
    """JSON has no -inf: None for a return ended by a NaN/inf output."""
    return None if not math.isfinite(v) else round(float(v), 2)


def movie_data(
    movies: Movies,
    fps: float,
    sweep: tuple[np.ndarray, Sequence[object]] | None = None,
) -> dict[str, object]:
    """The player's data: per page weight its sheet, steps, running returns and total.

    ``sweep``: (weights, statistics with ``mean``, ``sd``, ``n``) of the sweep, shown for a
    weight the sweep has.
    """
    episodes = []
    for e in movies.page:
        idx = np.arange(0, len(e.frames), movies.page_every)
        if idx[-1] != len(e.frames) - 1:
            idx = np.append(idx, len(e.frames) - 1)
        tuned = movies.tuned is not None and math.isclose(e.weight, movies.tuned)
        entry: dict[str, object] = {
            "weight": e.weight,
            "label": weight_label(e.weight, tuned),
            "sheet": sheet_uri(e.frames[idx]),
            "steps": [int(s) for s in e.steps[idx]],
            "running": [_finite(v) for v in e.running[idx]],
            "total": _finite(e.total),
        }
        if sweep is not None:
            ws, stats = sweep
            j = int(np.argmin(np.abs(np.asarray(ws) - e.weight)))
            if math.isclose(float(ws[j]), e.weight, abs_tol=1e-9):
                s = stats[j]
                entry["sweep"] = (
                    f"sweep at this weight: {s.mean:.1f} ± {s.sd:.1f} over {s.n} episodes"
                )
        episodes.append(entry)
    h, w = movies.page[0].frames.shape[1:3]
    if movies.tuned is not None:
        start = int(np.argmin([abs(e.weight - movies.tuned) for e in movies.page]))
    else:
        start = int(np.argmin([abs(e.weight - 1.0) for e in movies.page]))
    return {"episodes": episodes, "width": w, "height": h, "fps": fps, "start": start}


def player_html(data: dict[str, object], clip_names: Sequence[str] = ()) -> str:
    """The player's markup and script (the data as JSON in a ``<script>`` element)."""
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    links = " ".join(f'<a href="{html.escape(n)}">{html.escape(n)}</a>' for n in clip_names)
    return f"""
<h2>The champion's episode at each shared weight</h2>
<p>One episode (the same start for every weight) at each weight of a grid over [-2, 2]
(0 left out) and at the tuned shared weight w*; the slider snaps to the nearest one.
{f"The clip of the search's weights: {links}." if links else ""}</p>
<div id="player">
  <canvas id="episode" width="{data["width"]}" height="{data["height"]}"
    style="width: {3 * int(data["width"]) // 2}px"></canvas>
  <label>shared weight <input id="weight" type="range" min="-2" max="2" step="0.05">
    <span id="weight-value" class="big"></span></label>
  <label>time <input id="time" type="range" min="0" max="0" step="1" value="0">
    <span id="step"></span></label>
  <p>return so far <span id="running" class="big"></span>,
     episode return <span id="total" class="big"></span><br><span id="sweep"></span></p>
  <button id="play" type="button">pause</button>
</div>
<script type="application/json" id="movie-data">{payload}</script>
<script>{JS}</script>
"""


def write_page(
    path: Path,
    title: str,
    champion: str,
    table: str,
    notes: Sequence[str],
    pictures: Sequence[tuple[str, str]],
    command: str,
    budget: str,
    player: str = "",
) -> Path:
    """Write the page; ``pictures`` are (file name in the page's folder, caption)."""
    figures = []
    for name, caption in pictures:
        f = path.parent / name
        if f.is_file():
            figures.append(
                f'<figure><img alt="{html.escape(caption)}" '
                f'src="{data_uri(f.read_bytes(), "image/png")}">'
                f"<figcaption>{inline(caption)}</figcaption></figure>"
            )
    body = "\n".join(
        [
            f"<h1>{inline(title)}</h1>",
            f"<p>{inline(champion)}</p>",
            table_html(table),
            *(f"<p>{inline(n)}</p>" for n in notes),
            player,
            "<h2>Pictures</h2>",
            *figures,
            "<h2>How it was made</h2>",
            f"<pre>{html.escape(command)}</pre>",
            f"<p>{inline(budget)}</p>",
        ]
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
{body}
</body>
</html>
"""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
