"""The README's Python examples (its ```python blocks) run as written, each in an empty folder.

A block that names a ``locnet.X`` the package does not have yet is skipped, naming what is missing; once the
package has every name the block uses, the block must run.
Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest tools/python/tests/test_readme.py
"""
import os
import re

import pytest

import locnet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def readme_blocks():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return re.findall(r"^```python\n(.*?)^```", f.read(), re.S | re.M)


BLOCKS = readme_blocks()


def test_the_readme_has_a_keras_and_a_neupy_example():
    assert len(BLOCKS) >= 2
    assert any("locnet.Sequential()" in b and "model.fit(" in b for b in BLOCKS)
    assert any(">> locnet." in b and ".predict(" in b for b in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, tmp_path, monkeypatch, capsys):
    code = BLOCKS[index]
    missing = sorted({n for n in re.findall(r"\blocnet\.(\w+)", code) if not hasattr(locnet, n)})
    if missing:
        pytest.skip(f"README Python block {index + 1}: the package has no locnet.{', locnet.'.join(missing)} yet")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README.md python block {index + 1}", "exec"), {"__name__": "__readme__"})
