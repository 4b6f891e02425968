"""pip's entry (pyproject.toml): one CMake build makes the library, the `locnet` tool and the extension
locnet._core; this script only copies them with the package's .py files (tools/python/locnet/) into the wheel.

The CMake tree is build-pip/ (tests and benchmarks off) unless LOCNET_BUILD_DIR names another, such as the build/
of scripts/setup, which is then reused as configured. CMake reads CMAKE_CXX_COMPILER_LAUNCHER (ccache) and
CMAKE_BUILD_PARALLEL_LEVEL from the environment; LOCNET_CMAKE_ARGS adds configure arguments.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(os.environ.get("LOCNET_BUILD_DIR") or os.path.join(ROOT, "build-pip"))
PACKAGE = os.path.join(ROOT, "tools", "python", "locnet")


def version():
    text = open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8").read()
    return re.search(r"project\(locnet VERSION ([0-9.]+)", text).group(1)


class CMakeBuild(build_ext):
    """Builds the CMake targets locnet_python and locnet_cli instead of compiling the extension itself."""

    def build_extension(self, ext):
        if not os.path.exists(os.path.join(BUILD, "CMakeCache.txt")):
            subprocess.check_call(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release",
                                   "-DLOCNET_BUILD_TESTS=OFF", "-DLOCNET_BUILD_BENCH=OFF",
                                   f"-DPYTHON_EXECUTABLE={sys.executable}",
                                   *shlex.split(os.environ.get("LOCNET_CMAKE_ARGS", ""))])
        jobs = [] if "CMAKE_BUILD_PARALLEL_LEVEL" in os.environ else ["-j", str(os.cpu_count() or 1)]
        subprocess.check_call(["cmake", "--build", BUILD, *jobs, "--target", "locnet_python", "locnet_cli"])
        built = os.path.join(BUILD, "python", "locnet")
        modules = [f for f in os.listdir(built) if f.startswith("_core.") and f.endswith(".so")]
        if not modules:
            sys.exit(f"setup.py: no locnet._core in {built}: CMake did not find pybind11 (Debian: pybind11-dev)")
        target = os.path.dirname(self.get_ext_fullpath(ext.name))
        os.makedirs(target, exist_ok=True)
        shutil.copy2(os.path.join(built, modules[0]), self.get_ext_fullpath(ext.name))


setup(
    version=version(),
    packages=find_packages("tools/python", include=["locnet", "locnet.*"]),
    package_dir={"": "tools/python"},
    ext_modules=[Extension("locnet._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    data_files=[("bin", [os.path.relpath(os.path.join(BUILD, "bin", "locnet"), ROOT)])],
    options={"build": {"build_base": os.path.relpath(os.path.join(BUILD, "setuptools"), ROOT)}},
    zip_safe=False,
)
