"""Cell infrastructure (real or synthetic towers, coverage, places) and the social graph."""

from zen.network.cells import load_towers
from zen.network.coverage import Coverage
from zen.network.graph_stats import (
    OFFNET_BASE,
    GraphMeasures,
    compare_graphs,
    edges_from_records,
    graph_measures,
    graph_stats,
    summarize,
)
from zen.network.infrastructure import build_infrastructure
from zen.network.layout import synthetic_layout
from zen.network.places import grid_places, read_places
from zen.network.social import SocialParams, contact_table, fit_social, generate_social_graph

__all__ = ["OFFNET_BASE", "Coverage", "GraphMeasures", "SocialParams", "build_infrastructure",
           "compare_graphs", "contact_table", "edges_from_records", "fit_social", "generate_social_graph",
           "graph_measures", "graph_stats", "grid_places", "load_towers", "read_places", "summarize",
           "synthetic_layout"]
