"""brandcare: the app that wires listener, sentiment and responders into a care pipeline.

One folder per part, each importing only the parts below it (docs/layout.md; the
layers contract in pyproject.toml): cli; web, bench, worker; agents; pipeline;
insights, replies; brands, contracts, ops; config, store.
"""

__version__ = "0.1.0"
