"""The benchmarks behind ``brandcare bench ...``: each prints numbers, none is a timed test.

Imported by the command line only (``brandcare.cli.bench``); may import any part below it.
"""
