"""The pipeline stages, one module each; ``monitor.pipeline`` chains them."""
