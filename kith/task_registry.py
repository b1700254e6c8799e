"""Imports every module that registers job types, periodic tasks and event
handlers, so a worker knows them all. Assembly only, like app.py."""

from __future__ import annotations


def import_all_tasks() -> None:
    import kith.contacts.tasks
    import kith.graph.tasks
    import kith.http.idempotency_tasks
    import kith.jobs.queue  # noqa: F401
