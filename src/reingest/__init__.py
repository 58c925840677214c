"""reingest: rebuild a Grid-style media library's search index from its sources of truth."""

__version__ = "0.1.0"
