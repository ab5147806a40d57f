"""UBO computation on hand-checked ownership graphs (pure, no database)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kycd.organization.ubo import (
    MAX_CHAIN_LENGTH,
    Basis,
    Holding,
    NodeKind,
    UboResult,
    compute_ubos,
    overallocated,
)

P, C = NodeKind.PERSON, NodeKind.COMPANY
ROOT = "root"


def graph(
    edges: list[tuple[str, str, str]],
    people: set[str],
    threshold: str = "25",
    smo: tuple[str, ...] = (),
) -> UboResult:
    kinds = {ROOT: C}
    for owner, owned, _ in edges:
        kinds[owner] = P if owner in people else C
        kinds[owned] = P if owned in people else C
    for person in people:
        kinds[person] = P
    holdings = [Holding.of(o, t, pct) for o, t, pct in edges]
    return compute_ubos(
        ROOT, kinds, holdings, threshold=Fraction(threshold), senior_managing_officials=smo
    )


# (case, edges owner->owned pct, people, threshold, expected UBO -> effective %)
CASES = [
    (
        "direct shareholders",
        [("ann", ROOT, "60"), ("bob", ROOT, "40")],
        {"ann", "bob"},
        "25",
        {"ann": Fraction(60), "bob": Fraction(40)},
    ),
    # 80 % of a holding that owns 50 %: 0.8 * 0.5 = 40 %.
    (
        "two-link chain",
        [("ann", "hold", "80"), ("hold", ROOT, "50")],
        {"ann"},
        "25",
        {"ann": Fraction(40)},
    ),
    # 40 % of 50 % = 20 %: below the threshold.
    ("chain below threshold", [("ann", "hold", "40"), ("hold", ROOT, "50")], {"ann"}, "25", {}),
    # 50 % of 50 % is exactly 25 %: "25 % or more" counts it.
    (
        "chain exactly at threshold",
        [("ann", "hold", "50"), ("hold", ROOT, "50")],
        {"ann"},
        "25",
        {"ann": Fraction(25)},
    ),
    (
        "just below threshold",
        [("ann", ROOT, "24.9999"), ("bob", ROOT, "75.0001")],
        {"ann", "bob"},
        "25",
        {"bob": Fraction("75.0001")},
    ),
    # Diamond: ann holds 50 % of A (A holds 30 %) and 50 % of B (B holds 20 %):
    # 15 % + 10 % = 25 %, from two chains neither of which reaches it alone.
    (
        "diamond adds across chains",
        [
            ("ann", "a", "50"),
            ("ann", "b", "50"),
            ("a", ROOT, "30"),
            ("b", ROOT, "20"),
            ("bob", "a", "50"),
            ("bob", "b", "50"),
        ],
        {"ann", "bob"},
        "25",
        {"ann": Fraction(25), "bob": Fraction(25)},
    ),
    # Three levels: 90 % x 60 % x 50 % = 27 %.
    (
        "three-link chain",
        [("ann", "x", "90"), ("x", "y", "60"), ("y", ROOT, "50")],
        {"ann"},
        "25",
        {"ann": Fraction(27)},
    ),
    # Cycle between H and C: H holds 60 % of root; H is held 50 % by ann and
    # 50 % by C; C is held 40 % by H (loop) and 60 % by quinn.
    # ann: 50 % x 60 % = 30 %; quinn: 60 % x 50 % x 60 % = 18 %.
    (
        "cycle terminates",
        [
            ("h", ROOT, "60"),
            ("ann", "h", "50"),
            ("c", "h", "50"),
            ("h", "c", "40"),
            ("quinn", "c", "60"),
        ],
        {"ann", "quinn"},
        "25",
        {"ann": Fraction(30)},
    ),
    (
        "cycle with a lower tenant threshold",
        [
            ("h", ROOT, "60"),
            ("ann", "h", "50"),
            ("c", "h", "50"),
            ("h", "c", "40"),
            ("quinn", "c", "60"),
        ],
        {"ann", "quinn"},
        "10",
        {"ann": Fraction(30), "quinn": Fraction(18)},
    ),
    # The root holds half of its own parent: the loop back to root stops.
    (
        "cycle through the root",
        [("a", ROOT, "50"), (ROOT, "a", "50"), ("ann", "a", "50")],
        {"ann"},
        "25",
        {"ann": Fraction(25)},
    ),
    # Thirds: 100/3 % each, exact.
    (
        "thirds",
        [("ann", ROOT, "33.3333"), ("bob", ROOT, "33.3333"), ("cid", ROOT, "33.3334")],
        {"ann", "bob", "cid"},
        "33.3334",
        {"cid": Fraction("33.3334")},
    ),
]


@pytest.mark.parametrize(
    ("edges", "people", "threshold", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_effective_ownership(
    edges: list[tuple[str, str, str]],
    people: set[str],
    threshold: str,
    expected: dict[str, Fraction],
) -> None:
    result = graph(edges, people, threshold)
    assert {o.party: o.effective for o in result.owners} == expected
    if expected:
        assert result.basis is Basis.OWNERSHIP


def test_chains_are_listed_for_each_ubo() -> None:
    result = graph(
        [("ann", "a", "50"), ("ann", "b", "50"), ("a", ROOT, "30"), ("b", ROOT, "20")], {"ann"}
    )
    (owner,) = result.owners
    chains = sorted((c.nodes, c.shares, c.effective) for c in owner.chains)
    assert chains == [
        (("ann", "a", ROOT), (Fraction(50), Fraction(30)), Fraction(15)),
        (("ann", "b", ROOT), (Fraction(50), Fraction(20)), Fraction(10)),
    ]


def test_cycle_is_reported_and_quinn_counted_once() -> None:
    result = graph(
        [
            ("h", ROOT, "60"),
            ("ann", "h", "50"),
            ("c", "h", "50"),
            ("h", "c", "40"),
            ("quinn", "c", "60"),
        ],
        {"ann", "quinn"},
    )
    assert result.circular is True
    assert result.effective == {"ann": Fraction(30), "quinn": Fraction(18)}
    # 100 - 30 - 18: the rest is held by nobody known (40 % of root, and the loop).
    assert result.untraced == Fraction(52)


def test_senior_managing_official_when_nobody_reaches_threshold() -> None:
    people = {"ann", "bob", "dora"}
    edges = [("ann", ROOT, "20"), ("bob", ROOT, "20")]
    result = graph(edges, people, smo=("dora",))
    assert result.basis is Basis.SENIOR_MANAGING_OFFICIAL
    assert [(o.party, o.effective) for o in result.owners] == [("dora", Fraction(0))]
    # A senior managing official is not named when someone reaches the threshold.
    assert graph([("ann", ROOT, "30")], people, smo=("dora",)).basis is Basis.OWNERSHIP


def test_nobody_identifiable() -> None:
    result = graph([], set())
    assert result.basis is Basis.NONE
    assert result.owners == ()
    assert result.untraced == 100


def test_opaque_companies_and_depth() -> None:
    # "hold" owns 70 % but its own owners are recorded for only 50 %.
    result = graph(
        [("hold", ROOT, "70"), ("ann", "hold", "50"), ("bob", ROOT, "30")], {"ann", "bob"}
    )
    assert result.opaque_companies == ("hold",)
    assert result.depth == 2
    assert result.effective == {"ann": Fraction(35), "bob": Fraction(30)}
    assert result.untraced == Fraction(35)


def test_overlong_chains_are_cut_and_reported() -> None:
    names = [f"co{i}" for i in range(MAX_CHAIN_LENGTH + 3)]
    edges = [(names[0], ROOT, "100")]
    edges += [(names[i + 1], names[i], "100") for i in range(len(names) - 1)]
    edges.append(("ann", names[-1], "100"))
    result = graph(edges, {"ann"})
    assert result.truncated is True
    assert result.owners == ()
    assert result.depth == MAX_CHAIN_LENGTH


def test_dense_graph_terminates() -> None:
    # Eight companies all holding 10 % of each other: many simple paths, all bounded.
    companies = [f"c{i}" for i in range(8)]
    edges = [(a, b, "10") for a in companies for b in companies if a != b]
    edges += [(c, ROOT, "10") for c in companies]
    edges += [("ann", c, "20") for c in companies]
    result = graph(edges, {"ann"})
    assert result.circular is True
    assert result.effective["ann"] > 0


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ([("a", ROOT, "60"), ("b", ROOT, "40")], {}),
        ([("a", ROOT, "60"), ("b", ROOT, "40.0001")], {ROOT: Fraction("100.0001")}),
        ([("a", "h", "70"), ("b", "h", "31"), ("h", ROOT, "10")], {"h": Fraction(101)}),
    ],
)
def test_overallocated(edges: list[tuple[str, str, str]], expected: dict[str, Fraction]) -> None:
    assert overallocated(Holding.of(*e) for e in edges) == expected


def test_densely_cross_held_companies_without_people_are_bounded() -> None:
    # Twelve companies all holding 5 % of each other have billions of simple
    # paths; the walk stops at its step bound and says so.
    companies = [f"c{i}" for i in range(12)]
    edges = [(a, b, "5") for a in companies for b in companies if a != b]
    edges += [(c, ROOT, "5") for c in companies]
    result = graph(edges, set())
    assert result.truncated is True
    assert result.basis is Basis.NONE
