"""The trace package's curated API: every exported name exists and is documented."""

from __future__ import annotations

import importlib

import pytest

import btcwatch.trace

MODULES = ["evidence", "change", "coinjoin", "peel", "cluster", "deposits", "taint"]


def test_package_exports_resolve() -> None:
    for name in btcwatch.trace.__all__:
        assert getattr(btcwatch.trace, name) is not None, name
    assert sorted(btcwatch.trace.__all__) == sorted(set(btcwatch.trace.__all__))


@pytest.mark.parametrize("module", MODULES)
def test_module_exports_are_defined_and_documented(module: str) -> None:
    mod = importlib.import_module(f"btcwatch.trace.{module}")
    assert mod.__doc__
    for name in mod.__all__:
        value = getattr(mod, name)
        defined_here = getattr(value, "__module__", None) == mod.__name__
        if callable(value) and defined_here:
            assert value.__doc__, f"{module}.{name} has no docstring"
