"""``--help`` tells the values a run will use: the defaults and each task file's over them."""

from __future__ import annotations

import pytest

from src import config as cfg
from src import master


def test_help_shows_each_task_files_values_beside_the_defaults(capsys):
    with pytest.raises(SystemExit) as exc:
        master.parse_args(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for task in cfg.TASK_NAMES:
        values = cfg.read_toml(cfg.CONFIG_DIR / f"{task}.toml")
        built = cfg.build(task)
        for key, value in values.items():
            assert f"{task} {value!r}" in out.split(f"\n  {key} = ", 1)[1].split("\n", 1)[0]
            assert getattr(built, key) == (tuple(value) if isinstance(value, list) else value)
    default = cfg.FIELDS["pop_size"].default
    assert f"\n  pop_size = {default!r} (--task swingup 192," in out
    assert "--workers N" in out


def test_help_lists_every_task_the_registry_accepts(capsys):
    from src.tasks import registry

    with pytest.raises(SystemExit):
        master.parse_args(["--help"])
    out = capsys.readouterr().out
    for entry in registry.BUILTIN.values():
        assert f"  {entry.name} " in out and entry.description in out
    for form in ("gym:ENV_ID", "module:factory", "examples.my_task:build", "wann.tasks"):
        assert form in out
