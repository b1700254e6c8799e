"""Append-only audit log of every change: who changed what, before and after."""
