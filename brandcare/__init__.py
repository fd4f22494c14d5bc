"""brandcare: the app that wires listener, sentiment and responders into a care pipeline."""

__version__ = "0.1.0"
