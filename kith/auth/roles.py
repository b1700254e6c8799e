"""Roles and what they may do (ARCHITECTURE.md §6)."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMIN = "ADMIN"
    SALES_MANAGER = "SALES_MANAGER"
    SALES_REP = "SALES_REP"
    MARKETING_MANAGER = "MARKETING_MANAGER"
    VIEWER = "VIEWER"


class Permission(enum.StrEnum):
    VIEW_OWN = "ViewOwn"
    VIEW_TEAM = "ViewTeam"
    VIEW_ALL = "ViewAll"
    EDIT = "Edit"
    DELETE = "Delete"
    EXPORT = "Export"
    SHARE_EXTERNAL = "ShareExternal"
    MANAGE_USERS = "ManageUsers"
    MANAGE_SETTINGS = "ManageSettings"


class Visibility(enum.IntEnum):
    """Which owned records a role sees; higher sees more."""

    OWN = 1
    TEAM = 2
    ALL = 3


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.SALES_MANAGER: frozenset(
        {Permission.VIEW_TEAM, Permission.EDIT, Permission.DELETE, Permission.EXPORT}
    ),
    Role.SALES_REP: frozenset({Permission.VIEW_OWN, Permission.EDIT, Permission.DELETE}),
    Role.MARKETING_MANAGER: frozenset(
        {Permission.VIEW_ALL, Permission.EDIT, Permission.EXPORT, Permission.SHARE_EXTERNAL}
    ),
    Role.VIEWER: frozenset({Permission.VIEW_ALL}),
}


def visibility_of(role: Role) -> Visibility:
    perms = ROLE_PERMISSIONS[role]
    if Permission.VIEW_ALL in perms:
        return Visibility.ALL
    if Permission.VIEW_TEAM in perms:
        return Visibility.TEAM
    return Visibility.OWN
