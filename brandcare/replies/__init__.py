"""Replies: reply memory, history imports that seed it, and drafting for ``brandcare draft``.

May import the store, brands, contracts and the libraries; never the pipeline, web or CLI.
"""
