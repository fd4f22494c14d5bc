"""Insights for the people who do not work the queue: spike detection, alerts, digests.

May import the store, settings and operations (metrics); never the pipeline, web or CLI.

``spikes`` is the detector (pure: counts in, verdicts out); ``alerts`` runs it over the
database, keeps one alert per spike and notifies through ``notify`` (apprise);
``bench.alerts`` scores it on generated months. ``digest`` builds a period's numbers
from SQL aggregates and ``render`` writes them as HTML (with charts), Markdown or CSV.
"""
