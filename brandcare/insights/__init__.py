"""Insights for the people who do not work the queue: sentiment digests and spike alerts.

``digest`` builds a period's numbers from SQL aggregates and ``render`` writes them as
HTML (with charts), Markdown or CSV; ``alerts`` runs the spike detector
(``brandcare.spikes``) over the database and ``notify`` delivers through apprise.
"""
