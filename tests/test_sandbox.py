"""The tests' sandbox: no test, fixture, subprocess or Ray worker reads or writes the user's
real hairedit home (tests/home_guard.py)."""

import os
import sys
import textwrap
from pathlib import Path

import pytest

from hairedit.weights.registry import weights_dir
from tests.conftest import run_python
from tests.home_guard import REAL_HOME, SANDBOX


@pytest.fixture(scope="module")
def home_seen_by_a_module_fixture():
    """Module fixtures run before any per-test fixture: they too must see the run's own home."""
    return weights_dir()


def test_module_fixtures_and_subprocesses_see_the_runs_own_home(home_seen_by_a_module_fixture):
    assert home_seen_by_a_module_fixture != REAL_HOME
    assert home_seen_by_a_module_fixture.is_relative_to(SANDBOX)
    child = run_python("from hairedit.weights.registry import weights_dir; print(weights_dir())")
    assert Path(child.stdout.strip()) == weights_dir() != REAL_HOME, child.stderr
    for name in ("HF_HOME", "TORCH_HOME", "MPLCONFIGDIR"):
        assert Path(os.environ[name]).is_relative_to(SANDBOX), name


def test_a_run_that_writes_into_the_real_home_fails(pytester, tmp_path):
    real_home = tmp_path / "real_home"
    (real_home / "inversions").mkdir(parents=True)
    (real_home / "ffhq.pt").write_bytes(b"weights")
    pytester.makeconftest('pytest_plugins = ["tests.home_guard"]')
    pytester.makepyfile(test_leak=textwrap.dedent(f"""
        from pathlib import Path

        def test_a_leak():
            Path({str(real_home)!r}, "inversions", "abc.inversion.pt").write_bytes(b"an inversion")

        def test_another_leak():
            Path({str(real_home)!r}, "ffhq.pt").unlink()
        """))
    pytester.makepyfile(test_clean="def test_nothing():\n    pass\n")
    root = str(Path(__file__).parents[1])
    environment = {"HAIREDIT_HOME": str(real_home), "PYTHONPATH": os.pathsep.join([root, *sys.path])}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        leaking = pytester.runpytest_subprocess("test_leak.py")
        clean = pytester.runpytest_subprocess("test_clean.py")
    leaking.assert_outcomes(passed=2, errors=1)
    leaking.stdout.fnmatch_lines([f"*the tests changed the real hairedit home {real_home}: "
                                  "inversions/abc.inversion.pt added; ffhq.pt removed*"])
    clean.assert_outcomes(passed=1)
