"""Every event Kith emits (ARCHITECTURE.md §4). Public events may be delivered to
webhooks and NATS; internal ones carry data only Kith itself may act on."""

from __future__ import annotations

PUBLIC_EVENTS: frozenset[str] = frozenset(
    {
        "contact.created",
        "contact.updated",
        "contact.merged",
        "contact.deleted",
        "contact.enriched",
        "interaction.logged",
        "lead_score.changed",
        "deal.stage_changed",
        "introduction.requested",
        "credits.earned",
        "viral.action.completed",
        "workflow.execution.completed",
        "user.created",
        "user.deactivated",
    }
)

# Internal: never leave the process (they may carry one-time secrets for mail).
INTERNAL_EVENTS: frozenset[str] = frozenset({"user.invited"})

ALL_EVENTS: frozenset[str] = PUBLIC_EVENTS | INTERNAL_EVENTS


def is_known(event_type: str) -> bool:
    return event_type in ALL_EVENTS
