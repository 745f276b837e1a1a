"""The activation pool, software version and platform a run resolved: recorded in config.toml
and every checkpoint, checked by --resume (in-process: ``resume.resume`` is what ``--resume``
runs)."""

from __future__ import annotations

import dataclasses
import platform

import h5py
import numpy as np
import pytest
from harness import output_on_blas_kernel
from test_checkpoint_file import evolved_state

from src import __version__
from src import config as cfg
from src.core import activations
from src.search import checkpoint, provenance, resume
from src.tasks import swingup

pytestmark = pytest.mark.checkpoint

RUN_ID = "run-a"
ALL = [activations.NAMES[i] for i in activations.CONTROL_POOL]


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    return evolved_state(tmp_path_factory.mktemp("evolved"), generations=2)


def write_run(run, state, with_checkpoint=True):
    """A run folder as the search leaves it: config.toml, and a checkpoint unless not."""
    run.mkdir()
    cfg.write_config(state.config, run / "config.toml", RUN_ID)
    if with_checkpoint:
        checkpoint.save(state, run, RUN_ID)
    return run


def resume_run(run, generations=4, force=False):
    warnings: list[str] = []
    state, path, _ = resume.resume(
        run, overrides={"generations": generations}, force=force, warn=warnings.append
    )
    return state, path, warnings


def make_old(run):
    """Strip what runs recorded only since provenance was kept: the config.toml lines and
    the checkpoint attribute (digest recomputed: an intact file of the older writer)."""
    config = run / "config.toml"
    lines = config.read_text().splitlines()
    config.write_text("\n".join(x for x in lines if not x.startswith(provenance.TOML_KEYS)) + "\n")
    for path in sorted((run / "checkpoints").glob("gen_*.h5")):
        with h5py.File(path, "r+") as f:
            del f.attrs["resolved_activations_json"]
            del f.attrs["platform"]
            arrays: dict[str, np.ndarray] = {}

            def visit(name, obj, arrays=arrays):
                if isinstance(obj, h5py.Dataset):
                    arrays[name] = obj[()]

            f.visititems(visit)
            f.attrs["digest"] = checkpoint._digest(arrays, checkpoint._attributes(f))


def test_config_toml_and_checkpoints_record_the_pool_and_version(tmp_path, state):
    run = write_run(tmp_path / "run", state)
    text = (run / "config.toml").read_text()
    assert f"resolved_activations = {ALL!r}".replace("'", '"') in text
    assert f'software_version = "{__version__}"' in text
    assert f'platform = "{provenance.platform()}"' in text
    expected = provenance.Provenance(tuple(ALL), __version__, provenance.platform())
    assert provenance.from_toml(run / "config.toml") == expected
    (path,) = (run / "checkpoints").glob("gen_*.h5")
    assert checkpoint.read_provenance(path) == expected
    with h5py.File(path, "r") as f:  # plain h5py, no code of ours
        assert f.attrs["software"] == f"wann-at-scale {__version__}"
        assert f.attrs["resolved_activations_json"] == str(ALL).replace("'", '"')
        assert f.attrs["platform"] == provenance.platform()
    # still a config file: --config ignores the records, as it ignores run_id
    config = cfg.from_mapping(cfg.read_toml(run / "config.toml"), "config")
    assert config == state.config
    _, _, warnings = resume_run(run)
    assert warnings == []


def test_the_pool_follows_the_config_when_it_names_activations(tmp_path):
    config = cfg.build("swingup", sets=["activations=['tanh', 'sin']"])
    assert provenance.current(config).resolved_activations == ("tanh", "sin")
    mnist = cfg.build("mnist256")  # its task's pool, read without its data
    assert provenance.current(mnist).resolved_activations == tuple(
        activations.NAMES[i] for i in activations.CLASSIFICATION_POOL
    )


@pytest.mark.parametrize("with_checkpoint", [True, False], ids=["checkpoint", "config.toml"])
def test_a_run_made_with_a_smaller_default_pool_is_refused(
    tmp_path, state, monkeypatch, with_checkpoint
):
    """The issue's case: an activation added to the registry since the run was made grows
    the default pool of an unchanged config."""
    with monkeypatch.context() as m:  # the code as it was: one activation fewer
        m.setattr(swingup.SwingUp, "default_pool", activations.CONTROL_POOL[:-1])
        run = write_run(tmp_path / "run", state, with_checkpoint)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(cfg.ConfigError) as info:
        resume_run(run)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("--resume: refusing to go on with results that would change")
    assert f"resolved_activations {ALL[:-1]!r} -> {ALL!r}" in message
    assert "--force-config" in message
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before

    resumed, _, warnings = resume_run(run, force=True)
    assert resumed.config == dataclasses.replace(state.config, generations=4)
    assert warnings[-1].startswith("warning: --force-config: continuing with changed ")
    assert f"resolved_activations {ALL[:-1]!r} -> {ALL!r}" in warnings[-1]


@pytest.mark.parametrize("with_checkpoint", [True, False], ids=["checkpoint", "config.toml"])
def test_a_run_of_another_software_version_is_refused(
    tmp_path, state, monkeypatch, with_checkpoint
):
    with monkeypatch.context() as m:
        m.setattr(provenance, "SOFTWARE_VERSION", "0.0.9")
        run = write_run(tmp_path / "run", state, with_checkpoint)
    with pytest.raises(cfg.ConfigError, match=f"software_version '0.0.9' -> '{__version__}'"):
        resume_run(run)
    _, _, warnings = resume_run(run, force=True)
    assert f"changed software_version '0.0.9' -> '{__version__}'" in warnings[-1]


def test_a_run_from_before_the_records_resumes_with_a_warning(tmp_path, state):
    """As an old checkpoint missing a newer config key resumes with that key's default."""
    run = write_run(tmp_path / "run", state)
    make_old(run)
    (path,) = (run / "checkpoints").glob("gen_*.h5")
    assert checkpoint.read_provenance(path) == provenance.Provenance(None, __version__, None)
    resumed, used, warnings = resume_run(run)
    assert used == path and resumed.generation == state.generation
    assert warnings == [
        f"warning: the checkpoint {path.name} records no resolved_activations (written before "
        f"they were recorded): not checked; going on with resolved_activations {ALL!r}"
    ]
    (run / "checkpoints" / path.name).unlink()  # before the first checkpoint: config.toml
    _, used, warnings = resume_run(run)
    assert used == run / "config.toml"
    assert "config.toml records no resolved_activations and no software_version" in warnings[0]


def test_the_platform_names_what_the_floats_depend_on(monkeypatch):
    """numpy's dispatched SIMD targets this CPU runs; with none of them, a dash."""
    from numpy._core import _multiarray_umath as umath

    now = provenance.platform()
    assert f"numpy {np.__version__} SIMD " in now and "numba " in now
    simd = now.split(" SIMD ")[1].split(";")[0].split()
    assert set(simd) <= set(umath.__cpu_dispatch__)
    monkeypatch.setattr(umath, "__cpu_features__", {})
    assert " SIMD -; " in provenance.platform.__wrapped__()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="OpenBLAS core types are x86's")
def test_the_platform_names_the_blas_kernels():
    """OpenBLAS picks its kernels by CPU (CarRacing's encoder multiplies matrices with them):
    a process forced onto other kernels (OPENBLAS_CORETYPE) is on another platform."""
    here = provenance.platform()
    assert "; BLAS OpenBLAS " in here, here
    code = "from src.search import provenance; print(provenance.platform())"
    there = output_on_blas_kernel(code, "Nehalem").strip()
    assert "; BLAS OpenBLAS Nehalem; " in there and there != here


def test_ranks_on_other_platforms_are_named_by_platform():
    line = provenance.mixed_ranks({1: "a", 2: "b", 3: "a", 4: "r"}, "r")
    assert line.startswith("warning: ranks 1, 3 compute on 'a'; rank 2 computes on 'b'; ")
    assert "the root on 'r'" in line and "\n" not in line
    assert provenance.mixed_ranks({1: "r", 2: "r"}, "r") is None


@pytest.mark.parametrize("with_checkpoint", [True, False], ids=["checkpoint", "config.toml"])
def test_a_run_moved_to_another_platform_resumes_with_a_one_line_warning(
    tmp_path, state, monkeypatch, with_checkpoint
):
    """A cluster's nodes differ (AVX-512 or not, another libc): never refused, but said."""
    elsewhere = "x86_64 glibc 2.28; numpy 2.4.6 SIMD X86_V3; numba 0.68.1"
    with monkeypatch.context() as m:
        m.setattr(provenance, "platform", lambda: elsewhere)
        run = write_run(tmp_path / "run", state, with_checkpoint)
    assert provenance.from_toml(run / "config.toml").platform == elsewhere
    resumed, used, warnings = resume_run(run)
    assert resumed.generation == (state.generation if with_checkpoint else 0)
    (warning,) = warnings
    assert "\n" not in warning
    source = f"the checkpoint {used.name}" if with_checkpoint else "config.toml"
    assert warning.startswith(f"warning: {source} records platform {elsewhere!r}, ")
    assert f"this is {provenance.platform()!r}" in warning
    if with_checkpoint:  # the checkpoints written from here on record this platform
        assert checkpoint.read_provenance(used).platform == elsewhere
        checkpoint.save(resumed, run, RUN_ID)
        newest = checkpoint.list_checkpoints(run)[-1][1]
        assert checkpoint.read_provenance(newest).platform == provenance.platform()
