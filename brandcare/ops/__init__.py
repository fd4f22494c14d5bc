"""Operations: Prometheus metrics and their endpoints, health checks, logging, scoring layout.

May import settings, the store and the libraries; never the pipeline, the web or the CLI.
"""
