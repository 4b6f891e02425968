"""Runs every script of examples/python/ (each helper's examples included) in a fresh interpreter: each must exit 0.

Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest tools/python/tests
The scripts draw their own data (seeded NumPy); their output is not compared, only that they run.
"""
import glob
import os
import subprocess
import sys

import pytest

import locnet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "examples", "python", "*.py")))


def test_there_are_examples():
    assert SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=os.path.basename)
def test_example_runs(script, tmp_path):
    # in a scratch directory, so a script's files land there; the package from this test run's locnet
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(locnet.__file__)))] +
        [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    done = subprocess.run([sys.executable, script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{os.path.basename(script)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
