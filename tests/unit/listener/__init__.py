"""Unit tests of the listener package: no network."""
