"""Brands: the brands file (queries, voice, credentials profile), their accounts and sources.

May import settings and the store; never the pipeline, the web or the CLI.
"""
