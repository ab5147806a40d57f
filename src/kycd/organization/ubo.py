"""Ultimate beneficial owners from an ownership graph: pure rules, no I/O.

Nodes are the business customer itself (the *root*) and its related parties;
an edge says "owner holds ``percentage`` % of owned". A natural person's
effective ownership of the root is the product of the shares along one chain
of holdings, summed over every chain that leads from that person to the root
(indirect ownership multiplies along a chain and adds across chains).

A chain never passes through the same node twice. Cross-holdings (A owns part
of B, B owns part of A) are common in real group structures; following the
loop again and again would count the same shares repeatedly, so a chain that
meets a node already on it stops there and the graph is marked circular.
Chains are also bounded in length, and the walk in steps, so a pathological graph cannot
hang a request; hitting either bound is reported as ``truncated``.

All arithmetic is exact (:class:`fractions.Fraction` in percent), so 25 %
reached through 50 % of 50 % is exactly 25 % and not 24.999999.

When nobody reaches the threshold (25 % by default, "25 % or more" as in
Regulation (EU) 2024/1624, art. 52), the senior managing officials are named
as beneficial owners instead, as EU AML rules require.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

DEFAULT_THRESHOLD = Fraction(25)
# A chain of more links than this is cut: no real group structure is that
# deep, and the bound keeps enumeration finite on adversarial input.
MAX_CHAIN_LENGTH = 12
# Links followed in one computation: densely cross-held companies have
# factorially many simple paths, so the walk itself is bounded too.
MAX_STEPS = 20_000
HUNDRED = Fraction(100)


class NodeKind(StrEnum):
    PERSON = "person"
    COMPANY = "company"


class Basis(StrEnum):
    OWNERSHIP = "ownership"
    SENIOR_MANAGING_OFFICIAL = "senior_managing_official"
    NONE = "none"


@dataclass(frozen=True)
class Holding:
    owner: str
    owned: str
    percentage: Fraction

    @classmethod
    def of(cls, owner: str, owned: str, percentage: Decimal | int | str | Fraction) -> Holding:
        return cls(owner, owned, Fraction(percentage))


@dataclass(frozen=True)
class Chain:
    """One path of holdings, owner first: ``nodes[0]`` holds ``shares[0]`` %
    of ``nodes[1]``, and so on up to the root."""

    nodes: tuple[str, ...]
    shares: tuple[Fraction, ...]

    @property
    def effective(self) -> Fraction:
        result = HUNDRED
        for share in self.shares:
            result = result * share / HUNDRED
        return result


@dataclass(frozen=True)
class BeneficialOwner:
    party: str
    effective: Fraction
    basis: Basis
    chains: tuple[Chain, ...] = ()


@dataclass(frozen=True)
class UboResult:
    threshold: Fraction
    basis: Basis
    owners: tuple[BeneficialOwner, ...]
    # Every natural person's effective ownership, whether or not it reaches the threshold.
    effective: Mapping[str, Fraction]
    chains: Mapping[str, tuple[Chain, ...]]
    # Share of the root not traced to any natural person.
    untraced: Fraction
    circular: bool
    depth: int
    truncated: bool
    # Companies in the graph that reach the root but whose owners are unknown
    # or add up to less than 100 %.
    opaque_companies: tuple[str, ...] = field(default=())


def share_totals(holdings: Iterable[Holding]) -> dict[str, Fraction]:
    """Total percentage recorded as held in each owned node."""
    totals: dict[str, Fraction] = defaultdict(Fraction)
    for holding in holdings:
        totals[holding.owned] += holding.percentage
    return dict(totals)


def overallocated(holdings: Iterable[Holding]) -> dict[str, Fraction]:
    """Owned nodes whose recorded shares add up to more than 100 %."""
    return {node: total for node, total in share_totals(holdings).items() if total > HUNDRED}


@dataclass
class _Walk:
    owners_of: Mapping[str, Sequence[Holding]]
    kinds: Mapping[str, NodeKind]
    totals: Mapping[str, Fraction]
    chains: dict[str, list[Chain]] = field(default_factory=lambda: defaultdict(list))
    circular: bool = False
    truncated: bool = False
    depth: int = 0
    steps: int = 0
    opaque: set[str] = field(default_factory=set)

    def walk(self, path: list[str], shares: list[Fraction]) -> None:
        node = path[-1]
        holdings = self.owners_of.get(node, ())
        if node != path[0] and self.totals.get(node, 0) < HUNDRED:
            self.opaque.add(node)
        for holding in holdings:
            if holding.owner in path:
                self.circular = True
                continue
            if len(shares) + 1 > MAX_CHAIN_LENGTH or self.steps >= MAX_STEPS:
                self.truncated = True
                continue
            self.steps += 1
            path.append(holding.owner)
            shares.append(holding.percentage)
            self.depth = max(self.depth, len(shares))
            if self.kinds.get(holding.owner) is NodeKind.PERSON:
                chain = Chain(tuple(reversed(path)), tuple(reversed(shares)))
                self.chains[holding.owner].append(chain)
            else:
                self.walk(path, shares)
            path.pop()
            shares.pop()


def compute_ubos(
    root: str,
    kinds: Mapping[str, NodeKind],
    holdings: Sequence[Holding],
    *,
    threshold: Fraction = DEFAULT_THRESHOLD,
    senior_managing_officials: Sequence[str] = (),
) -> UboResult:
    """Every natural person whose effective ownership of ``root`` is at least
    ``threshold`` percent, with the chains that make it; or, when there is
    none, the ``senior_managing_officials`` (person ids, in the order given)."""
    owners_of: dict[str, list[Holding]] = defaultdict(list)
    for holding in holdings:
        owners_of[holding.owned].append(holding)
    walk = _Walk(owners_of, kinds, share_totals(holdings))
    walk.walk([root], [])
    chains = {person: tuple(found) for person, found in walk.chains.items()}
    effective = {
        person: sum((c.effective for c in found), Fraction(0)) for person, found in chains.items()
    }
    reaching = sorted(
        (p for p, share in effective.items() if share >= threshold),
        key=lambda p: (-effective[p], p),
    )
    if reaching:
        basis = Basis.OWNERSHIP
        owners = tuple(
            BeneficialOwner(p, effective[p], Basis.OWNERSHIP, chains[p]) for p in reaching
        )
    elif senior_managing_officials:
        basis = Basis.SENIOR_MANAGING_OFFICIAL
        owners = tuple(
            BeneficialOwner(
                p, effective.get(p, Fraction(0)), Basis.SENIOR_MANAGING_OFFICIAL, chains.get(p, ())
            )
            for p in dict.fromkeys(senior_managing_officials)
        )
    else:
        basis, owners = Basis.NONE, ()
    traced = sum(effective.values(), Fraction(0))
    return UboResult(
        threshold=threshold,
        basis=basis,
        owners=owners,
        effective=effective,
        chains=chains,
        untraced=max(Fraction(0), HUNDRED - traced),
        circular=walk.circular,
        depth=walk.depth,
        truncated=walk.truncated,
        opaque_companies=tuple(sorted(walk.opaque)),
    )
