"""The report after a search: the paper's table, tuned weights, ensembles and pictures.

``python -m src.report RUN_DIR`` (or a genome JSON file) writes, into ``RUN_DIR/report``:

* ``report.md``: the table of Gaier & Ha (2019, table 1) for the champion next to the paper's
  numbers (random weights, random shared weight, tuned shared weight, tuned weights; MNIST:
  test accuracy per shared weight, their ensemble, tuned shared weight, trained weights), and
  the same for a small fully connected "fixed topology" network;
* ``table.csv``, ``sweep.csv``, ``tuned_weights.json``;
* ``network.png/.svg/.pdf`` (the champion in layers), ``growth.*`` (the champion over
  generations), ``curves.png`` (the search's learning curves), ``sweep.png`` (return against
  the shared weight), ``network_tuned.*``; MNIST: ``digits.*``, ``confusion.*``;
* ``episodes.gif`` and ``episodes.mp4``: the champion's episode at the search's weights and
  the tuned one, side by side (tasks with episodes to show; ``--no-video`` skips them);
* ``report.html``: all of it in one self-contained page, with a shared-weight slider over
  the champion's episodes.

Modules: :mod:`.episodes` (seeds, batched rollouts through the executor), :mod:`.tuning`
(PEPG with checkpoint/resume), :mod:`.control` and :mod:`.classify` (the columns),
:mod:`.netdraw` (networks by Graphviz), :mod:`.growth` (the champion over generations),
:mod:`.digits` (MNIST pixels per digit, confusion matrices), :mod:`.progress` (time left),
:mod:`.figures`, :mod:`.video` (episodes as pictures), :mod:`.html` (the page),
:mod:`.writing`, :mod:`.build` (loading a run, writing everything),
``__main__`` (the command line, serial or under ``mpiexec``).
"""
