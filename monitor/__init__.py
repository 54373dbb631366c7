"""monitor: a multilingual media-monitoring daemon for the South Caucasus."""

__version__ = "0.1.0"
