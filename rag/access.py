"""Who may do what to which knowledge base: one rule for the web app and the HTTP API.

A principal (a signed-in person, an API key, or the local user of a loopback-only app) holds a
role per knowledge base; ``"*"`` stands for every knowledge base. Roles grow:

    reader   read: ask, search, list documents
    editor   read + write: upload, delete documents, rebuild
    admin    editor + manage (create and delete the knowledge base); admin of "*" also
             configures the model (backend, URL, path), which is shared by everyone

Both faces call ``allowed`` in the code that changes things, not only where buttons are drawn.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

Role = Literal["reader", "editor", "admin"]
Action = Literal["read", "write", "manage", "configure"]
PrincipalKind = Literal["user", "key", "local"]
EVERY_KB = "*"
ROLES: tuple[Role, ...] = get_args(Role)
ACTIONS: dict[Role, frozenset[Action]] = {
    "reader": frozenset({"read"}),
    "editor": frozenset({"read", "write"}),
    "admin": frozenset({"read", "write", "manage", "configure"}),
}


@dataclass(frozen=True)
class Principal:
    """Someone acting: ``roles`` maps a knowledge-base name (or "*") to a role."""

    name: str
    roles: Mapping[str, Role] = field(default_factory=dict)
    kind: PrincipalKind = "user"


LOCAL = Principal("local", {EVERY_KB: "admin"}, "local")
"""The person at the machine when nothing is shared: the app on 127.0.0.1, the API with no key."""


def parse_role(text: str) -> Role:
    """``text`` as a Role, or ValueError naming the valid ones."""
    if text not in ROLES:
        raise ValueError(f"unknown role {text!r}: use one of {', '.join(ROLES)}")
    return text  # type: ignore[return-value]  # checked just above


def role_on(principal: Principal, kb: str) -> Role | None:
    """The highest of the principal's role on ``kb`` and its role on every KB; None if neither."""
    held = [r for r in (principal.roles.get(kb), principal.roles.get(EVERY_KB)) if r is not None]
    return max(held, key=ROLES.index) if held else None


def allowed(principal: Principal, action: Action, kb: str | None = None) -> bool:
    """Whether ``principal`` may do ``action`` to knowledge base ``kb``.

    ``configure`` (the model backend, its URL or path) concerns every knowledge base at once and
    needs admin of "*"; every other action needs ``kb``.
    """
    if action == "configure":
        return principal.roles.get(EVERY_KB) == "admin"
    if kb is None:
        return False
    role = role_on(principal, kb)
    return role is not None and action in ACTIONS[role]


def readable(principal: Principal, names: Iterable[str]) -> list[str]:
    """The knowledge bases among ``names`` that ``principal`` may read, in their order."""
    return [name for name in names if allowed(principal, "read", name)]


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address or 'localhost') is this machine's loopback interface."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback
