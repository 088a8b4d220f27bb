"""The test run's own hairedit home and caches, and a check that the user's real home is left
alone (a pytest plugin: ``pytest_plugins`` in conftest.py).

The variables are set when this module is imported, before any test module, fixture,
subprocess or Ray worker exists: every process the run starts inherits them, and so do
module- and session-scoped fixtures, which run before any per-test fixture could set them.
The real home (``$HAIREDIT_HOME`` as the run was started, else ``~/.cache/hairedit``) is
listed with every file's size and modification time at the start and again at the end; any
difference fails the run. ``$HAIREDIT_TEST_CACHE`` (the test data, read only) is not moved.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from hairedit.weights.registry import HOME_ENV, weights_dir

REAL_HOME = weights_dir()  # before the run's own home replaces it below
SANDBOX = Path(tempfile.mkdtemp(prefix="hairedit-tests-"))
# hairedit's home (weights, inversion cache) and the caches of the libraries it calls. Not
# $XDG_CACHE_HOME: Playwright finds its browsers there.
SANDBOXED = {HOME_ENV: "hairedit_home", "HF_HOME": "huggingface", "TORCH_HOME": "torch", "MPLCONFIGDIR": "matplotlib"}
for _name, _folder in SANDBOXED.items():
    os.environ[_name] = str(SANDBOX / _folder)


def snapshot(folder: Path) -> dict[str, tuple[int, int]] | None:
    """Every file under ``folder``: relative path -> (size, modification time in ns); None when absent."""
    if not folder.exists():
        return None
    files = {}
    for path in folder.rglob("*"):
        try:
            stat = path.lstat()
        except FileNotFoundError:  # removed while listed: the comparison shows it gone
            continue
        files[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return files


def changes(before: dict | None, after: dict | None) -> list[str]:
    """What differs between two snapshots, one phrase a file."""
    if before is None or after is None:
        return [] if before == after else ["the folder was created" if before is None else "the folder was removed"]
    added = [f"{name} added" for name in sorted(after.keys() - before.keys())]
    removed = [f"{name} removed" for name in sorted(before.keys() - after.keys())]
    modified = [f"{name} changed" for name in sorted(before.keys() & after.keys()) if before[name] != after[name]]
    return added + removed + modified


@pytest.fixture(scope="session", autouse=True)
def real_home_untouched():
    """Fails the run (an error at the last test's teardown) when anything under the real home changed."""
    before = snapshot(REAL_HOME)
    yield REAL_HOME
    found = changes(before, snapshot(REAL_HOME))
    if found:
        pytest.fail(f"the tests changed the real hairedit home {REAL_HOME}: {'; '.join(found[:10])}", pytrace=False)


def pytest_unconfigure(config) -> None:
    shutil.rmtree(SANDBOX, ignore_errors=True)
