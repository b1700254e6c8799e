"""Imports every package's tables so ``Base.metadata`` is complete (for Alembic
and tests). Assembly only, like app.py: add a domain's models here."""

from __future__ import annotations


def import_all_models() -> None:
    import kith.audit.models
    import kith.auth.models
    import kith.companies.models
    import kith.contacts.models
    import kith.events.models
    import kith.graph.models
    import kith.http.idempotency
    import kith.jobs.models
    import kith.search.models
    import kith.webhooks.models  # noqa: F401
