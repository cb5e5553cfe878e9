"""Effective ownership through chains of companies, beneficial owners under a threshold, and the
checks that keep the declared structure possible (no loops, shares of one company at most 100%).

Pure functions over (owner, owned, percentage) triples, so they are tested without a database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

APPLICANT = None  # `owned` of a link that holds shares in the applicant company itself
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Link:
    owner: int
    owned: int | None
    percentage: Decimal


class OwnershipLoop(ValueError):
    """The declared structure owns itself. `cycle` lists party ids around the loop."""

    def __init__(self, cycle: list[int]):
        super().__init__(f"ownership loop through parties {cycle}")
        self.cycle = cycle


def owners_by_owned(links: Iterable[Link]) -> dict[int | None, list[Link]]:
    table: dict[int | None, list[Link]] = defaultdict(list)
    for link in links:
        table[link.owned].append(link)
    return table


def find_loop(links: Iterable[Link]) -> list[int] | None:
    """A cycle in the ownership graph (following owned -> owner), or None."""
    owners = owners_by_owned(links)
    # Depth-first search with the usual three colours; recursion depth is the chain length.
    WHITE, GREY, BLACK = 0, 1, 2
    colour: dict[int, int] = defaultdict(int)

    def visit(node: int, path: list[int]) -> list[int] | None:
        colour[node] = GREY
        for link in owners.get(node, []):
            nxt = link.owner
            if colour[nxt] == GREY:  # grey nodes are exactly the current path
                return path[path.index(nxt):] + [nxt]
            if colour[nxt] == WHITE:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        colour[node] = BLACK
        return None

    nodes: set[int] = set()
    for owned, owned_links in owners.items():
        if owned is not None:
            nodes.add(owned)
        nodes.update(link.owner for link in owned_links)
    for node in sorted(nodes):
        if colour[node] == WHITE:
            found = visit(node, [node])
            if found:
                return found
    return None


def overallocated(links: Iterable[Link]) -> dict[int | None, Decimal]:
    """Companies (None: the applicant) whose declared shares add up to more than 100%."""
    totals: dict[int | None, Decimal] = defaultdict(Decimal)
    for link in links:
        totals[link.owned] += link.percentage
    return {owned: total for owned, total in totals.items() if total > HUNDRED}


def effective_ownership(links: Iterable[Link], persons: set[int]) -> dict[int, Decimal]:
    """Each natural person's share of the applicant, in percent: the product of percentages along
    each chain, summed over every chain that reaches them. Raises OwnershipLoop on a cycle."""
    links = list(links)
    loop = find_loop(links)
    if loop:
        raise OwnershipLoop(loop)
    # Each entity's share of the applicant is computed once and reused, so shared holding companies
    # cost time in proportion to the number of holdings, not to the number of chains through them.
    held_by: dict[int, list[Link]] = defaultdict(list)
    for link in links:
        held_by[link.owner].append(link)
    memo: dict[int, Decimal] = {}

    def share(entity: int) -> Decimal:
        if entity not in memo:
            memo[entity] = sum(
                (link.percentage / HUNDRED * (Decimal(1) if link.owned is None else share(link.owned))
                 for link in held_by.get(entity, [])),
                Decimal(0),
            )
        return memo[entity]

    result = {person: share(person) for person in persons if person in held_by}
    return {person: (value * HUNDRED).quantize(Decimal("0.0001")) for person, value in result.items() if value > 0}


@dataclass
class OwnershipSummary:
    effective: dict[int, Decimal] = field(default_factory=dict)
    beneficial_owners: list[int] = field(default_factory=list)
    loop: list[int] | None = None
    overallocated: dict[int | None, Decimal] = field(default_factory=dict)

    @property
    def needs_controller(self) -> bool:
        return self.loop is None and not self.beneficial_owners


def summarise(links: Iterable[Link], persons: set[int], threshold: Decimal) -> OwnershipSummary:
    links = list(links)
    summary = OwnershipSummary(overallocated=overallocated(links))
    try:
        summary.effective = effective_ownership(links, persons)
    except OwnershipLoop as loop:
        summary.loop = loop.cycle
        return summary
    summary.beneficial_owners = sorted(
        (p for p, share in summary.effective.items() if share >= threshold),
        key=lambda p: (-summary.effective[p], p),
    )
    return summary
