"""Connected components of the identifier graph, with the over-merge guard.

Pure Python, no database: `touchpoint.identity.resolve` feeds it integer node ids
read with COPY and writes its answer back with COPY.

Nodes are identifiers (0..n-1). A node may already belong to a customer (`old_seq`,
the sequence number of its customer id, 0 when new). Nodes of one existing customer
are one component before any edge is read: components only grow or merge, they are
never split (that is what keeps customer ids stable).

Over-merge guard. Edges are first unioned without a limit. A resulting component
larger than `max_size` identifiers is then solved again on its own: its edges are
applied in order of increasing "hubness" (the larger distinct-neighbour count of the
two endpoints), so the edges of ordinary people are applied before the edges of a
shared identifier; when an edge would create a component above `max_size`, the
endpoint with the most distinct neighbours is declared *shared* (a hub), all of its
edges are set aside and the component is solved again. This repeats until no edge is
rejected. A shared identifier therefore merges nobody (not even the first few people
that fit under the cap), and it is remembered: later runs reject its edges up front
(`known_hubs`).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


# Rounds of the guard that isolate one shared identifier each before it switches to
# isolating every blamed endpoint of a round at once (bounds the work when one
# component holds many shared identifiers).
ONE_HUB_PER_ROUND_LIMIT = 20


@dataclass(frozen=True)
class RejectedEdge:
    """An edge the guard did not apply."""

    a: int
    b: int
    label: int
    hub: int                 # the shared identifier (node) the edge touches
    hub_degree: int          # its distinct neighbours among the run's edges
    size_a: int              # identifiers in a's component after resolution
    size_b: int              # identifiers in b's component after resolution
    known_hub: bool          # hub found shared in an earlier run (quarantined)


@dataclass
class Resolution:
    component: list[int]                     # node -> component representative (a node id)
    survivor: dict[int, int]                 # component -> surviving old seq (absent: needs a new id)
    absorbed: dict[int, tuple[int, int]]     # absorbed old seq -> (surviving old seq, edge label)
    rejected: list[RejectedEdge] = field(default_factory=list)
    oversized_components: int = 0            # tentative components the guard had to split
    new_hubs: set[int] = field(default_factory=set)

    @property
    def components(self) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = defaultdict(list)
        for node, comp in enumerate(self.component):
            groups[comp].append(node)
        return groups


class UnionFind:
    """Union by size with path halving; `min_old` follows the oldest customer of a set."""

    __slots__ = ("parent", "size", "min_old")

    def __init__(self, n: int, old_seq: list[int] | None = None):
        self.parent = list(range(n))
        self.size = [1] * n
        self.min_old = list(old_seq) if old_seq is not None else [0] * n

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> tuple[int, int] | None:
        """Join the sets of a and b. Returns (absorbed old seq, surviving old seq) when two
        existing customers met, else None."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        size = self.size
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        size[ra] += size[rb]
        oa, ob = self.min_old[ra], self.min_old[rb]
        if oa and ob and oa != ob:
            loser, winner = (ob, oa) if oa < ob else (oa, ob)
            self.min_old[ra] = winner
            return loser, winner
        if ob and not oa:
            self.min_old[ra] = ob
        return None


def _group_existing(uf: UnionFind, old_seq: list[int]) -> None:
    """Union the nodes of each existing customer (old_seq indexed like uf)."""
    first: dict[int, int] = {}
    for i, s in enumerate(old_seq):
        if s:
            j = first.setdefault(s, i)
            if j != i:
                uf.union(i, j)


def resolve_components(
    n: int,
    old_seq: list[int],
    edge_a: list[int],
    edge_b: list[int],
    edge_label: list[int],
    max_size: int | None,
    known_hubs: set[int] | frozenset[int] = frozenset(),
) -> Resolution:
    """Components of n nodes under the edges, keeping existing customers whole.

    old_seq[i]: customer sequence number node i already has (0: none).
    edge_label[k]: opaque small int carried into merge reasons and the guard report.
    known_hubs: nodes found shared in earlier runs; their edges are rejected.
    """
    m = len(edge_a)
    uf = UnionFind(n, old_seq)
    _group_existing(uf, old_seq)  # existing customers are whole before any edge

    parent, size, min_old = uf.parent, uf.size, uf.min_old
    absorbed: dict[int, tuple[int, int]] = {}
    quarantined: list[int] = []
    hub_flag = bytearray(n)
    for h in known_hubs:
        hub_flag[h] = 1
    check_hubs = bool(known_hubs)
    # Unguarded pass (the hot loop: inlined find/union).
    for k in range(m):
        a = edge_a[k]
        b = edge_b[k]
        if check_hubs and (hub_flag[a] or hub_flag[b]):
            quarantined.append(k)
            continue
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a == b:
            continue
        if size[a] < size[b]:
            a, b = b, a
        parent[b] = a
        size[a] += size[b]
        oa, ob = min_old[a], min_old[b]
        if ob:
            if not oa:
                min_old[a] = ob
            elif ob < oa:
                min_old[a] = ob
                absorbed[oa] = (ob, edge_label[k])
            elif oa < ob:
                absorbed[ob] = (oa, edge_label[k])

    find = uf.find
    component = [0] * n
    for i in range(n):
        component[i] = find(i)

    rejected: list[RejectedEdge] = []
    new_hubs: set[int] = set()
    oversized = 0
    if max_size is not None:
        over_roots = {r for r in set(component) if size[r] > max_size}
        if over_roots:
            # Only components that an edge made too big need the guard: one existing
            # customer above the cap with no new merge is left as it is.
            members: dict[int, list[int]] = defaultdict(list)
            for i in range(n):
                if component[i] in over_roots:
                    members[component[i]].append(i)
            edges_of: dict[int, list[int]] = defaultdict(list)
            for k in range(m):
                r = component[edge_a[k]]
                if r in over_roots and not (check_hubs and (hub_flag[edge_a[k]] or hub_flag[edge_b[k]])):
                    edges_of[r].append(k)
            for r in sorted(over_roots):
                nodes = members[r]
                if len({old_seq[i] for i in nodes if old_seq[i]}) == 1 and all(old_seq[i] for i in nodes):
                    continue  # one existing customer, nothing new joined it
                oversized += 1
                local = _guarded_component(nodes, edges_of[r], old_seq, edge_a, edge_b, edge_label, max_size)
                for i in nodes:
                    component[i] = local.component[i]
                for seq in {old_seq[i] for i in nodes if old_seq[i]}:
                    absorbed.pop(seq, None)
                absorbed.update(local.absorbed)
                rejected.extend(local.rejected)
                new_hubs |= local.hubs

    # Edges of identifiers found shared in earlier runs.
    if quarantined:
        sizes: dict[int, int] = defaultdict(int)
        for c in component:
            sizes[c] += 1
        degree = _degrees((edge_a[k], edge_b[k]) for k in quarantined)
        for k in quarantined:
            a, b = edge_a[k], edge_b[k]
            hub = a if hub_flag[a] else b
            rejected.append(RejectedEdge(a, b, edge_label[k], hub, len(degree[hub]),
                                         sizes[component[a]], sizes[component[b]], True))

    survivor: dict[int, int] = {}
    for i in range(n):
        s = old_seq[i]
        if s:
            c = component[i]
            cur = survivor.get(c)
            if cur is None or s < cur:
                survivor[c] = s
    # absorbed ids point at their component's final survivor (not at an intermediate one)
    final_absorbed: dict[int, tuple[int, int]] = {}
    seq_component = {old_seq[i]: component[i] for i in range(n) if old_seq[i]}
    for seq, c in seq_component.items():
        win = survivor[c]
        if seq != win:
            label = absorbed.get(seq, (win, -1))[1]
            final_absorbed[seq] = (win, label)
    return Resolution(component=component, survivor=survivor, absorbed=final_absorbed,
                      rejected=rejected, oversized_components=oversized, new_hubs=new_hubs)


def _degrees(pairs) -> dict[int, set[int]]:
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in pairs:
        if a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    return neighbours


@dataclass
class _Local:
    component: dict[int, int]
    absorbed: dict[int, tuple[int, int]]
    rejected: list[RejectedEdge]
    hubs: set[int]


def _guarded_component(nodes, edge_ids, old_seq, edge_a, edge_b, edge_label, max_size) -> _Local:
    """Solve one too-big tentative component with the cap, isolating shared identifiers."""
    neighbours = _degrees((edge_a[k], edge_b[k]) for k in edge_ids)
    degree = {v: len(neighbours.get(v, ())) for v in nodes}

    def hubness(k):
        a, b = edge_a[k], edge_b[k]
        return (max(degree[a], degree[b]), edge_label[k], min(a, b), max(a, b))

    ordered = sorted(edge_ids, key=hubness)
    index = {v: i for i, v in enumerate(nodes)}
    local_old = [old_seq[v] for v in nodes]
    hubs: set[int] = set()
    rounds = 0
    while True:
        uf = UnionFind(len(nodes), local_old)
        _group_existing(uf, local_old)
        absorbed: dict[int, tuple[int, int]] = {}
        too_big: list[int] = []
        for k in ordered:
            a, b = edge_a[k], edge_b[k]
            if a in hubs or b in hubs:
                continue
            ia, ib = index[a], index[b]
            ra, rb = uf.find(ia), uf.find(ib)
            if ra == rb:
                continue
            if uf.size[ra] + uf.size[rb] > max_size:
                too_big.append(k)
                continue
            met = uf.union(ia, ib)
            if met:
                absorbed[met[0]] = (met[1], edge_label[k])
        if not too_big:
            break
        rounds += 1

        def blame(k):  # the more connected endpoint of a rejected edge
            a, b = edge_a[k], edge_b[k]
            return max((a, b), key=lambda v: (degree[v], -v))

        if rounds <= ONE_HUB_PER_ROUND_LIMIT:
            # One shared identifier per round, the most connected one: the others may
            # fit once it is gone.
            hubs.add(max((blame(k) for k in too_big), key=lambda v: (degree[v], -v)))
        else:
            # Many shared identifiers in one component: blame every rejected edge's more
            # connected endpoint at once so the number of rounds stays small.
            hubs.update(blame(k) for k in too_big)

    component = {v: nodes[uf.find(index[v])] for v in nodes}
    sizes: dict[int, int] = defaultdict(int)
    for v in nodes:
        sizes[component[v]] += 1
    rejected = []
    for k in ordered:
        a, b = edge_a[k], edge_b[k]
        if a in hubs or b in hubs:
            hub = a if a in hubs else b
            rejected.append(RejectedEdge(a, b, edge_label[k], hub, degree[hub],
                                         sizes[component[a]], sizes[component[b]], False))
    return _Local(component=component, absorbed=absorbed, rejected=rejected, hubs=hubs)
