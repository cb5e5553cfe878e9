"""Effective ownership through chains of companies and the beneficial-owner threshold (DESIGN 4.2),
on the pure functions of onboarding.applications.ownership: no application or database needed."""

from __future__ import annotations

import random
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from onboarding.applications.ownership import (
    APPLICANT,
    Link,
    OwnershipLoop,
    effective_ownership,
    find_loop,
    overallocated,
    summarise,
)

D = Decimal
ROOT = Path(__file__).resolve().parent.parent
# Natural persons are 1..99, companies 100 and up; APPLICANT (None) is the applying company.
ALICE, BOB, CAROL, DAN, ERIN = 1, 2, 3, 4, 5
HOLDCO, MIDCO, TOPCO, C4, C5 = 101, 102, 103, 104, 105
PERSONS = {ALICE, BOB, CAROL, DAN, ERIN}


def link(owner: int, owned: int | None, percentage: str | int | Decimal) -> Link:
    return Link(owner, owned, D(percentage))


def assert_is_cycle(cycle: list[int], links: list[Link]) -> None:
    """`cycle` is closed and each step follows a declared holding (owned -> its owner)."""
    assert cycle[0] == cycle[-1]
    declared = {(lnk.owned, lnk.owner) for lnk in links}
    for owned, owner in zip(cycle, cycle[1:], strict=False):
        assert (owned, owner) in declared


# --- effective shares --------------------------------------------------------------------------------


def test_direct_holding_is_the_effective_share():
    assert effective_ownership([link(ALICE, APPLICANT, 60)], PERSONS) == {ALICE: D("60.0000")}


def test_indirect_share_multiplies_along_the_chain():
    """A 60% direct; B owns 50% of Holdco, which owns 40% of the applicant: B has 20%."""
    links = [link(ALICE, APPLICANT, 60), link(HOLDCO, APPLICANT, 40), link(BOB, HOLDCO, 50)]
    assert effective_ownership(links, PERSONS) == {ALICE: D("60"), BOB: D("20")}


def test_companies_never_appear_as_owners_in_the_result():
    links = [link(HOLDCO, APPLICANT, 100), link(BOB, HOLDCO, 100)]
    assert effective_ownership(links, PERSONS) == {BOB: D("100")}


def test_a_person_reached_through_two_paths_gets_the_sum():
    """Alice holds 10% herself and half of Holdco's 40%: 30%, a beneficial owner although
    neither path alone reaches 25%."""
    links = [link(ALICE, APPLICANT, 10), link(HOLDCO, APPLICANT, 40), link(ALICE, HOLDCO, 50),
             link(BOB, HOLDCO, 50)]
    assert effective_ownership(links, PERSONS) == {ALICE: D("30"), BOB: D("20")}
    assert summarise(links, PERSONS, D(25)).beneficial_owners == [ALICE]


def test_two_paths_through_a_shared_company_are_both_counted():
    """A diamond: Holdco and Midco both hold Topco; Dan owns all of Topco."""
    links = [link(HOLDCO, APPLICANT, 30), link(MIDCO, APPLICANT, 20), link(TOPCO, HOLDCO, 50),
             link(TOPCO, MIDCO, 50), link(DAN, TOPCO, 100)]
    assert find_loop(links) is None
    assert effective_ownership(links, PERSONS) == {DAN: D("25")}


def test_five_level_chain():
    """90% of C5, which holds 80% of C4 ... which holds 50% of the applicant: 15.12%."""
    links = [link(C5, APPLICANT, 50), link(C4, C5, 60), link(TOPCO, C4, 70), link(MIDCO, TOPCO, 80),
             link(ERIN, MIDCO, 90)]
    assert effective_ownership(links, PERSONS) == {ERIN: D("15.1200")}
    assert summarise(links, PERSONS, D(15)).beneficial_owners == [ERIN]
    assert summarise(links, PERSONS, D(25)).beneficial_owners == []


def test_shares_are_exact_decimals_rounded_to_four_places():
    """A third of a company holding 75% is exactly 25%: a beneficial owner, not 24.99...%."""
    third = D(100) / 3
    links = [link(HOLDCO, APPLICANT, 75), link(ALICE, APPLICANT, 25)] + [
        Link(person, HOLDCO, third) for person in (BOB, CAROL, DAN)
    ]
    shares = effective_ownership(links, PERSONS)
    assert shares == {ALICE: D("25"), BOB: D("25"), CAROL: D("25"), DAN: D("25")}
    assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -4 for v in shares.values())
    assert summarise(links, PERSONS, D(25)).beneficial_owners == [ALICE, BOB, CAROL, DAN]


def test_thirds_held_directly_show_as_33_3333():
    third = D(100) / 3
    shares = effective_ownership([Link(p, APPLICANT, third) for p in (ALICE, BOB, CAROL)], PERSONS)
    assert shares == {ALICE: D("33.3333"), BOB: D("33.3333"), CAROL: D("33.3333")}


LAYERED = """
from decimal import Decimal
from onboarding.applications.ownership import Link, summarise

layers = {layers}
links = [Link(1000, None, Decimal(50)), Link(1001, None, Decimal(50))]
for layer in range(1, layers):
    for upper in (0, 1):
        for lower in (0, 1):
            links.append(Link(1000 + 2 * layer + upper, 1000 + 2 * (layer - 1) + lower, Decimal(50)))
links += [Link(1, 1000 + 2 * (layers - 1), Decimal(100)), Link(1, 1001 + 2 * (layers - 1), Decimal(100))]
summary = summarise(links, {{1}}, Decimal(25))
print(summary.effective[1], summary.beneficial_owners)
"""


def test_shared_intermediate_companies_do_not_make_the_computation_explode():
    """30 levels of two holding companies, each holding half of both companies below it: only 60
    companies, but 2^30 chains. The ownership, documents and review pages compute this on every
    view, so it must follow the structure (each company once), not walk every chain: otherwise
    one applicant's declaration ties up a server process for hours."""
    try:
        result = subprocess.run([sys.executable, "-c", LAYERED.format(layers=30)], cwd=ROOT, timeout=30,
                                capture_output=True, text=True, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail("effective ownership of 60 companies in 30 levels was still being computed after 30 s")
    assert result.stdout.split() == ["100.0000", "[1]"]


# --- beneficial owners under a threshold --------------------------------------------------------------


def test_exactly_25_percent_is_a_beneficial_owner_and_24_9999_is_not():
    links = [link(ALICE, APPLICANT, 25), link(BOB, APPLICANT, "24.9999"), link(CAROL, APPLICANT, "50.0001")]
    summary = summarise(links, PERSONS, D(25))
    assert summary.beneficial_owners == [CAROL, ALICE]  # largest share first
    assert BOB not in summary.beneficial_owners
    assert summary.effective[BOB] == D("24.9999")
    assert summary.needs_controller is False


def test_exactly_25_percent_reached_indirectly_counts():
    links = [link(HOLDCO, APPLICANT, 50), link(ALICE, HOLDCO, 50), link(BOB, HOLDCO, "49.998")]
    summary = summarise(links, PERSONS, D(25))
    assert summary.beneficial_owners == [ALICE]
    assert summary.effective[BOB] == D("24.9990")


@pytest.mark.parametrize(("threshold", "expected"), [
    (D(10), [ALICE, BOB, ERIN, CAROL]),
    (D(15), [ALICE, BOB]),
    (D(25), []),
])
def test_ten_and_fifteen_percent_regimes(threshold, expected):
    links = [link(ALICE, APPLICANT, 24), link(BOB, APPLICANT, 15), link(CAROL, APPLICANT, 10),
             link(DAN, APPLICANT, "9.9999"), link(ERIN, APPLICANT, "14.9999")]
    summary = summarise(links, PERSONS, threshold)
    assert summary.beneficial_owners == expected
    assert DAN not in summary.beneficial_owners
    assert summary.needs_controller is (expected == [])


def test_nobody_above_the_threshold_needs_a_controller():
    """Widely held: five persons with 20% each."""
    links = [link(p, APPLICANT, 20) for p in sorted(PERSONS)]
    summary = summarise(links, PERSONS, D(25))
    assert summary.beneficial_owners == []
    assert summary.needs_controller is True


def test_no_holdings_at_all_needs_a_controller():
    summary = summarise([], PERSONS, D(25))
    assert summary.effective == {}
    assert summary.needs_controller is True


def test_a_beneficial_owner_means_no_controller_is_needed():
    summary = summarise([link(ALICE, APPLICANT, 30), link(BOB, APPLICANT, 70)], PERSONS, D(25))
    assert summary.beneficial_owners == [BOB, ALICE]
    assert summary.needs_controller is False


# --- loops ------------------------------------------------------------------------------------------------


def test_two_companies_owning_each_other_are_a_loop():
    links = [link(HOLDCO, APPLICANT, 100), link(MIDCO, HOLDCO, 50), link(HOLDCO, MIDCO, 50),
             link(ALICE, MIDCO, 50)]
    cycle = find_loop(links)
    assert cycle is not None
    assert set(cycle) == {HOLDCO, MIDCO}
    assert_is_cycle(cycle, links)
    with pytest.raises(OwnershipLoop) as loop:
        effective_ownership(links, PERSONS)
    assert set(loop.value.cycle) == {HOLDCO, MIDCO}
    summary = summarise(links, PERSONS, D(25))
    assert set(summary.loop) == {HOLDCO, MIDCO}
    assert summary.beneficial_owners == []
    # The loop must be fixed first; a controller would not settle anything.
    assert summary.needs_controller is False


def test_a_company_owning_itself_is_a_loop():
    links = [link(HOLDCO, APPLICANT, 100), link(HOLDCO, HOLDCO, 10), link(ALICE, HOLDCO, 90)]
    assert find_loop(links) == [HOLDCO, HOLDCO]
    with pytest.raises(OwnershipLoop) as loop:
        effective_ownership(links, PERSONS)
    assert loop.value.cycle == [HOLDCO, HOLDCO]
    assert summarise(links, PERSONS, D(25)).loop == [HOLDCO, HOLDCO]


def test_three_company_loop():
    links = [link(HOLDCO, APPLICANT, 100), link(MIDCO, HOLDCO, 100), link(TOPCO, MIDCO, 100),
             link(HOLDCO, TOPCO, 100)]
    cycle = find_loop(links)
    assert set(cycle) == {HOLDCO, MIDCO, TOPCO}
    assert len(cycle) == 4
    assert_is_cycle(cycle, links)


def test_a_loop_not_connected_to_the_applicant_is_still_found():
    links = [link(ALICE, APPLICANT, 100), link(MIDCO, TOPCO, 50), link(TOPCO, MIDCO, 50)]
    cycle = find_loop(links)
    assert set(cycle) == {MIDCO, TOPCO}
    assert_is_cycle(cycle, links)
    with pytest.raises(OwnershipLoop):
        effective_ownership(links, PERSONS)
    assert set(summarise(links, PERSONS, D(25)).loop) == {MIDCO, TOPCO}


def test_chains_without_loops_are_not_reported_as_loops():
    links = [link(HOLDCO, APPLICANT, 60), link(MIDCO, APPLICANT, 39), link(TOPCO, HOLDCO, 100),
             link(TOPCO, MIDCO, 100), link(ALICE, TOPCO, 100), link(ALICE, APPLICANT, 1)]
    assert find_loop(links) is None
    assert summarise(links, PERSONS, D(25)).loop is None


# --- over-allocation ------------------------------------------------------------------------------------


def test_shares_of_one_company_above_100_percent_are_flagged():
    links = [link(ALICE, APPLICANT, 60), link(HOLDCO, APPLICANT, 40),
             link(BOB, HOLDCO, 60), link(CAROL, HOLDCO, "40.5")]
    assert overallocated(links) == {HOLDCO: D("100.5")}
    assert summarise(links, PERSONS, D(25)).overallocated == {HOLDCO: D("100.5")}


def test_exactly_100_percent_is_not_flagged():
    links = [link(ALICE, APPLICANT, "33.3333"), link(BOB, APPLICANT, "33.3333"), link(CAROL, APPLICANT, "33.3334")]
    assert overallocated(links) == {}


def test_overallocation_of_the_applicant_itself_is_flagged():
    links = [link(ALICE, APPLICANT, 60), link(BOB, APPLICANT, "40.0001"), link(CAROL, HOLDCO, 100)]
    assert overallocated(links) == {APPLICANT: D("100.0001")}


# --- a property over random structures ------------------------------------------------------------------


def random_structure(rng: random.Random) -> tuple[list[Link], set[int]]:
    """A random tree of companies (up to 5 levels) above the applicant. Persons may appear under
    several companies (several paths), companies only once (so no loops). Each company's
    declared shares add up to at most 100%."""
    links: list[Link] = []
    persons: set[int] = set()
    next_company = [100]

    def owners_of(entity: int | None, depth: int) -> None:
        left = 100
        for _ in range(rng.randint(1, 4)):
            if left == 0:
                break
            percentage = rng.randint(1, left)
            left -= percentage
            if depth < 5 and rng.random() < 0.4:
                next_company[0] += 1
                company = next_company[0]
                links.append(Link(company, entity, D(percentage)))
                owners_of(company, depth + 1)
            else:
                person = rng.randint(1, 12)
                if any(lnk.owner == person and lnk.owned == entity for lnk in links):
                    continue  # one holding per (owner, owned), as the application enforces
                persons.add(person)
                links.append(Link(person, entity, D(percentage)))

    owners_of(APPLICANT, 1)
    return links, persons


def chain_products(links: list[Link], persons: set[int]) -> dict[int, Fraction]:
    """Independent oracle: every chain from the applicant up to a person, as exact fractions."""
    result: dict[int, Fraction] = {}

    def walk(entity: int | None, fraction: Fraction) -> None:
        for lnk in links:
            if lnk.owned != entity:
                continue
            share = fraction * Fraction(lnk.percentage) / 100
            if lnk.owner in persons:
                result[lnk.owner] = result.get(lnk.owner, Fraction(0)) + share
            else:
                walk(lnk.owner, share)

    walk(APPLICANT, Fraction(1))
    return {p: share * 100 for p, share in result.items()}


def to_decimal(value: Fraction) -> Decimal:
    return (D(value.numerator) / D(value.denominator)).quantize(D("0.0001"))


@pytest.mark.parametrize("seed", range(200))
def test_random_trees_effective_shares_are_the_chain_products(seed):
    rng = random.Random(seed)
    links, persons = random_structure(rng)
    assert find_loop(links) is None

    effective = effective_ownership(links, persons)
    expected = chain_products(links, persons)

    assert set(effective) == set(expected)
    for person, share in expected.items():
        assert effective[person] == to_decimal(share)
    exact_total = sum(expected.values(), Fraction(0))
    assert exact_total <= 100
    # The reported (4-decimal) shares add up to the exact total, give or take their rounding.
    rounding = D("0.00005") * len(effective)
    assert abs(sum(effective.values(), D(0)) - to_decimal(exact_total)) <= rounding + D("0.00005")
    assert sum(effective.values(), D(0)) <= 100 + rounding
    assert overallocated(links) == {}
