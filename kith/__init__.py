"""Kith: a self-hosted, relationship-first CRM."""

__version__ = "0.1.0"
