"""Fixtures of the export tests; the graphs themselves live in export_graphs.py."""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import pytest
from export_graphs import build_flow_graph, build_wannacry_graph


@pytest.fixture
def flow_graph() -> nx.MultiDiGraph:
    return build_flow_graph()


@pytest.fixture
def graph_factory() -> Callable[[], nx.MultiDiGraph]:
    return build_flow_graph


@pytest.fixture
def wannacry_graph() -> nx.MultiDiGraph:
    return build_wannacry_graph()
