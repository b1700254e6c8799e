"""Records elsewhere that point at a contact, moved by a merge and put back by undo.

Each domain registers its references when it is imported:

    register_reference(ColumnReference("interactions", Interaction, Interaction.contact_id))

A reference with constraints a plain column update could break (e.g. a unique
pair of contacts) implements :class:`ContactReference` itself. The merge code
never changes when a domain arrives.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import inspect, select, tuple_, update
from sqlalchemy.orm import Session

from kith.db.types import jsonable


class ContactReference(Protocol):
    name: str

    def move(
        self,
        session: Session,
        organization_id: uuid.UUID,
        from_ids: Sequence[uuid.UUID],
        to_id: uuid.UUID,
    ) -> list[Any]:
        """Re-point rows from ``from_ids`` to ``to_id``; return what is needed to undo."""

    def restore(self, session: Session, organization_id: uuid.UUID, moved: list[Any]) -> None:
        """Undo :meth:`move` exactly."""


@dataclass(frozen=True)
class ColumnReference:
    """A table whose ``column`` holds a contact id (organization-scoped rows)."""

    name: str
    model: type[Any]
    column: Any

    def _key_columns(self) -> list[Any]:
        return list(inspect(self.model).primary_key)

    def move(
        self,
        session: Session,
        organization_id: uuid.UUID,
        from_ids: Sequence[uuid.UUID],
        to_id: uuid.UUID,
    ) -> list[Any]:
        keys = self._key_columns()
        rows = session.execute(
            select(*keys, self.column).where(
                self.model.organization_id == organization_id, self.column.in_(from_ids)
            )
        ).all()
        if not rows:
            return []
        session.execute(
            update(self.model)
            .where(self.model.organization_id == organization_id, self.column.in_(from_ids))
            .values({self.column.key: to_id})
            .execution_options(synchronize_session=False)
        )
        return [jsonable(list(row)) for row in rows]

    def restore(self, session: Session, organization_id: uuid.UUID, moved: list[Any]) -> None:
        keys = self._key_columns()
        for row in moved:
            *key_values, original = row
            typed = [_typed(column, value) for column, value in zip(keys, key_values, strict=True)]
            session.execute(
                update(self.model)
                .where(self.model.organization_id == organization_id)
                .where(tuple_(*keys) == tuple_(*typed))
                .values({self.column.key: uuid.UUID(original)})
                .execution_options(synchronize_session=False)
            )


def _typed(column: Any, value: Any) -> Any:
    if isinstance(value, str):
        try:
            if column.type.python_type is uuid.UUID:
                return uuid.UUID(value)
        except NotImplementedError:
            return value
    return value


REFERENCES: dict[str, ContactReference] = {}


def register_reference(reference: ContactReference) -> None:
    REFERENCES[reference.name] = reference
