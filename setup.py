"""Build of the pysoftmax._core extension (metadata lives in pyproject.toml).

One translation unit per instruction set; each selects its own target with a pragma, so the
build uses no -march flag and the module runs on any x86-64 CPU, dispatching at import.
"""
import re
import sys
from pathlib import Path

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

ParallelCompile("PYSOFTMAX_BUILD_JOBS", default=2).install()

here = Path(__file__).parent
version = re.search(r'__version__ = "([^"]+)"', (here / "pysoftmax" / "_version.py").read_text())[1]

openmp = ["-fopenmp"] if sys.platform.startswith("linux") else []

ext = Pybind11Extension(
    "pysoftmax._core",
    sorted(str(p) for p in Path("csrc").rglob("*.cpp")),
    include_dirs=["csrc"],
    depends=sorted(str(p) for p in Path("csrc").rglob("*.h")),  # a header's edit rebuilds
    define_macros=[("PYSOFTMAX_VERSION", f'"{version}"')],
    cxx_std=17,
    # never -ffast-math / -march; no contraction of a * b + c into an FMA where the code does
    # not write one (GCC's default for C++), so that every result follows the written operations
    extra_compile_args=["-O3", "-Wall", "-Wextra", "-ffp-contract=off"] + openmp,
    extra_link_args=openmp,
)

setup(version=version, ext_modules=[ext], cmdclass={"build_ext": build_ext})
