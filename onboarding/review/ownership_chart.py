"""The ownership chain as a tree for the case page: the applicant at the root, its shareholders below,
the owners of each holding company below that, with direct and effective percentages."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ..applications.models import Application
from ..applications.ownership import OwnershipSummary


@dataclass
class OwnerNode:
    name: str
    kind: str  # "applicant", "company" or "person"
    direct: Decimal | None = None
    effective: Decimal | None = None
    beneficial_owner: bool = False
    roles: list[str] = field(default_factory=list)
    owners: list[OwnerNode] = field(default_factory=list)
    # A holding company already drawn elsewhere in the tree: its owners are shown there only.
    shown_above: bool = False


def ownership_tree(application: Application, summary: OwnershipSummary) -> OwnerNode:
    parties = {p.id: p for p in application.parties}
    holders: dict[int | None, list] = {}
    for link in application.ownership_links:
        holders.setdefault(link.owned_id, []).append(link)

    expanded: set[int] = set()  # each company's owners are drawn once, so shared branches stay linear

    def owners_of(owned_id: int | None, share_above: Decimal, path: frozenset[int]) -> list[OwnerNode]:
        nodes = []
        for link in sorted(holders.get(owned_id, []), key=lambda lk: -lk.percentage):
            party = parties.get(link.owner_id)
            if party is None:
                continue
            effective = share_above * link.percentage / 100
            node = OwnerNode(name=party.name, kind=party.kind, direct=link.percentage,
                             effective=summary.effective.get(party.id, effective) if party.is_person else effective,
                             beneficial_owner=party.id in summary.beneficial_owners, roles=_roles(party))
            if party.is_company and (party.id in path or party.id in expanded):
                node.shown_above = True  # a loop, or a company whose owners are already drawn
            elif party.is_company:
                expanded.add(party.id)
                node.owners = owners_of(party.id, effective, path | {party.id})
            nodes.append(node)
        return nodes

    return OwnerNode(name=application.legal_name or "Applicant", kind="applicant",
                     owners=owners_of(None, Decimal(100), frozenset()))


def _roles(party) -> list[str]:
    return [label for flag, label in ((party.is_director, "director"), (party.is_signatory, "signatory"),
                                      (party.is_controller, "senior managing official")) if flag]
