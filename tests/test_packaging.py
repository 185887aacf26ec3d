"""The sdist holds every file needed to build and test pysoftmax: every tracked file except the
repository's own tooling (CI, Makefile, style settings) and bench/ (benchmark material that is
not installed). `make sdist-check` then builds and installs it in a fresh venv."""

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Tracked but deliberately left out of the sdist.
NOT_SHIPPED = (".ci/", ".clang-format", ".gitignore", "Makefile", "bench/")
# What pip needs to build from the sdist, whatever git says.
NEEDED = ("pyproject.toml", "setup.py", "LICENSE", "README.md", "csrc/kernels.h",
          "csrc/simd/wrapper.h", "pysoftmax/__init__.py", "pysoftmax/py.typed")


def _git_files(*options):
    out = subprocess.run(["git", "ls-files", *options], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return {f for f in out.splitlines() if (ROOT / f).exists()}    # not deleted meanwhile


def test_sdist_holds_every_source_file(tmp_path):
    pytest.importorskip("build")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (the sdist's own tests)")
    tracked = _git_files()
    new = _git_files("--others", "--exclude-standard")     # not committed yet, not ignored
    # From a copy of what a clone holds: in the working tree, setuptools would also ship the
    # files of an earlier build's pysoftmax.egg-info/SOURCES.txt.
    src = tmp_path / "src"
    for f in tracked | new:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path),
                    str(src)], check=True, capture_output=True)
    (archive,) = tmp_path.glob("pysoftmax-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}
    expected = {f for f in tracked if not f.startswith(NOT_SHIPPED)}
    assert not expected - names, f"missing from the sdist: {sorted(expected - names)}"
    assert set(NEEDED) <= names
    stray = {n for n in names - tracked - new if not n.startswith("pysoftmax.egg-info/")}
    assert stray <= {"PKG-INFO", "setup.cfg"}, sorted(stray)          # no ignored file
    assert not any(n.endswith((".so", ".o", ".pyc")) for n in names)
