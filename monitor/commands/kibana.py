"""``monitor kibana setup``: placeholder until monitor.kibana lands (being written)."""

from __future__ import annotations


def dispatch(args) -> int:
    """Import the saved objects into Kibana."""
    raise NotImplementedError
