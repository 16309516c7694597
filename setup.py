"""Compiled parts of the package (everything else is declared in pyproject.toml).

Two small C extensions speed up the level-2 hot path (benchmarks/l2_throughput.py); the package also
runs without them (``DASHBOARD_PURE_PYTHON=1``), and the tests check both paths give the same books.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("dashboard.domain._bookcore", ["dashboard/domain/_bookcore.c"],
                  depends=["dashboard/domain/_bookcore.h"], extra_compile_args=["-O2"]),
        Extension("dashboard.kucoin.client._l2fast", ["dashboard/kucoin/client/_l2fast.c"],
                  include_dirs=["dashboard/domain"], depends=["dashboard/domain/_bookcore.h"],
                  extra_compile_args=["-O2"]),
    ],
)
