"""Learning from agents' corrections: ``brandcare train --feedback`` and its benchmark.

Reads the corrections file, refits the heads of a trained model (never the encoder) and
writes a new version with its before/after card. Imports the scorer's modules; nothing
else of ``sentiment`` imports this package.
"""
