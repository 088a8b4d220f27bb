"""hairedit states the oldest library versions it works with, and refuses older ones in one
clear line rather than failing deep inside with an AttributeError."""

import re
from pathlib import Path

import pytest

from hairedit import _requirements
from hairedit.errors import RequirementError
from tests.conftest import run_python

ROOT = Path(__file__).parents[1]


def test_an_old_torch_is_refused_naming_the_requirement(monkeypatch):
    monkeypatch.setattr(_requirements, "installed_version", {"torch": "2.5.1+cu121", "numpy": "2.1.0"}.get)
    with pytest.raises(RequirementError) as error:
        _requirements.require("torch", "numpy")
    message = str(error.value)
    assert "torch >= 2.7" in message and "torch 2.5.1+cu121" in message and "recompile_limit" in message
    assert "numpy" not in message.split("Upgrade")[0].replace("numpy.", "")  # numpy is new enough
    assert message.endswith("pip install -U 'torch>=2.7'")


def test_a_missing_library_is_named(monkeypatch):
    monkeypatch.setattr(_requirements, "installed_version", lambda name: None)
    with pytest.raises(RequirementError, match="gradio >= 6.24 .*gradio is not installed"):
        _requirements.require("gradio")


@pytest.mark.parametrize("version, floor, ok", [
    ("2.13.0+cpu", "2.7", True), ("2.7.0", "2.7", True), ("2.7.0rc1", "2.7", True), ("2.6.0", "2.7", False),
    ("10.0.0", "9.5", True), ("6.9.0", "6.24", False),
])
def test_versions_compare_as_numbers(version, floor, ok):
    assert (_requirements.version_tuple(version) >= _requirements.version_tuple(floor)) == ok


def test_the_installed_libraries_meet_the_floors():
    _requirements.require(*_requirements.REQUIREMENTS)


def test_pyproject_states_the_same_floors():
    tomllib = pytest.importorskip("tomllib")
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floors = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", item).groups() for item in dependencies if ">=" in item)
    assert floors == {name: requirement.minimum for name, requirement in _requirements.REQUIREMENTS.items()}


def test_the_cli_refuses_an_old_numpy_in_one_line():
    # numpy.dtypes (numpy 1.25) is used as checkpoints are read: an older numpy must be named
    # before that, not surface as "module 'numpy' has no attribute 'dtypes'".
    code = (
        "import sys; from importlib import metadata; real = metadata.version; "
        "metadata.version = lambda name: '1.24.4' if name == 'numpy' else real(name); "
        "from hairedit.cli import main; sys.exit(main(['edit', 'photo.jpg', '-o', 'out.png']))"
    )
    run = run_python(code)
    assert run.returncode == 2, run.stderr[-2000:]
    assert run.stderr.startswith("hairedit: error: hairedit needs numpy >= 1.25 (for numpy.dtypes)")
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1
