"""Reads both faces share: property filters and orders, objects as JSON, link job state, availability."""
