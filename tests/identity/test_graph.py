"""Union-find, stable-id and over-merge-guard logic of touchpoint.identity.graph (pure Python)."""
from __future__ import annotations

import random

from touchpoint.identity.graph import UnionFind, resolve_components


def partition(res) -> set[frozenset[int]]:
    return {frozenset(nodes) for nodes in res.components.values()}


def edges_of(pairs, label=0):
    pairs = list(pairs)
    return [a for a, _ in pairs], [b for _, b in pairs], [label] * len(pairs)


def test_union_find_sizes_and_oldest_customer():
    uf = UnionFind(5, [0, 7, 3, 0, 0])
    assert uf.union(0, 1) is None            # new node joins customer 7
    assert uf.union(1, 2) == (7, 3)          # customers 7 and 3 meet: 7 is absorbed by 3
    assert uf.union(0, 2) is None            # already one set
    root = uf.find(0)
    assert uf.size[root] == 3 and uf.min_old[root] == 3
    assert uf.find(3) != root and uf.size[uf.find(3)] == 1


def test_components_of_new_nodes_need_new_ids():
    ea, eb, el = edges_of([(0, 1), (1, 2), (3, 4)])
    res = resolve_components(6, [0] * 6, ea, eb, el, max_size=50)
    assert partition(res) == {frozenset({0, 1, 2}), frozenset({3, 4}), frozenset({5})}
    assert res.survivor == {} and res.absorbed == {} and res.rejected == []


def test_existing_customer_is_kept_whole_and_keeps_its_id():
    # nodes 0,1 belong to customer 5 already; node 2 is new and joins via an edge to 1
    ea, eb, el = edges_of([(1, 2)])
    res = resolve_components(4, [5, 5, 0, 0], ea, eb, el, max_size=50)
    assert partition(res) == {frozenset({0, 1, 2}), frozenset({3})}
    assert res.survivor[res.component[2]] == 5
    assert res.component[3] not in res.survivor  # node 3 needs a new id
    assert res.absorbed == {}


def test_merge_keeps_the_oldest_id_and_records_every_absorbed_id_with_a_reason():
    # customers 9 (nodes 0,1), 4 (nodes 2,3) and 6 (node 4); edges chain them 9-6-4
    ea, eb = [1, 4], [4, 2]
    res = resolve_components(5, [9, 9, 4, 4, 6], ea, eb, [11, 22], max_size=50)
    assert len(partition(res)) == 1
    assert res.survivor[res.component[0]] == 4
    # both younger ids point at the final survivor, each with the label of the edge that absorbed it
    assert set(res.absorbed) == {9, 6}
    assert all(new == 4 for new, _ in res.absorbed.values())
    assert {label for _, label in res.absorbed.values()} <= {11, 22}


def test_merge_order_does_not_change_the_outcome():
    rng = random.Random(3)
    n = 200
    old = [rng.choice([0, 0, rng.randrange(1, 40)]) for _ in range(n)]
    pairs = [(rng.randrange(n), rng.randrange(n)) for _ in range(150)]
    first = resolve_components(n, old, *edges_of(pairs), max_size=None)
    rng.shuffle(pairs)
    second = resolve_components(n, old, *edges_of(pairs), max_size=None)
    assert partition(first) == partition(second)
    assert {k: v[0] for k, v in first.absorbed.items()} == {k: v[0] for k, v in second.absorbed.items()}


def test_every_old_id_survives_or_is_absorbed_exactly_once():
    rng = random.Random(11)
    n = 500
    old = [rng.randrange(1, 120) if rng.random() < 0.6 else 0 for _ in range(n)]
    pairs = [(rng.randrange(n), rng.randrange(n)) for _ in range(300)]
    res = resolve_components(n, old, *edges_of(pairs), max_size=None)
    olds = {s for s in old if s}
    survivors = set(res.survivor.values())
    assert survivors.isdisjoint(res.absorbed)
    assert survivors | set(res.absorbed) == olds
    for absorbed, (new, _) in res.absorbed.items():
        assert new < absorbed and new in survivors


def _people(count, ids_per_person, start=0):
    """count people, each a chain of ids_per_person nodes; returns (pairs, person nodes)."""
    pairs, people = [], []
    node = start
    for _ in range(count):
        nodes = list(range(node, node + ids_per_person))
        pairs += list(zip(nodes, nodes[1:]))
        people.append(nodes)
        node += ids_per_person
    return pairs, people, node


def test_guard_isolates_a_shared_identifier_instead_of_merging_the_first_people():
    pairs, people, hub = _people(30, 4)
    pairs += [(person[0], hub) for person in people]  # one shared card used by 30 people
    res = resolve_components(hub + 1, [0] * (hub + 1), *edges_of(pairs), max_size=50)
    # nobody is merged with anybody: every person is their own component, the card alone
    assert partition(res) == {frozenset(p) for p in people} | {frozenset({hub})}
    assert res.new_hubs == {hub}
    assert res.oversized_components == 1
    assert len(res.rejected) == 30
    assert all(r.hub == hub and r.hub_degree == 30 and not r.known_hub for r in res.rejected)
    assert {(r.size_a + r.size_b) for r in res.rejected} == {5}


def test_guard_leaves_components_under_the_cap_alone():
    pairs, people, hub = _people(5, 4)
    pairs += [(person[0], hub) for person in people]  # 21 identifiers: allowed under 50
    res = resolve_components(hub + 1, [0] * (hub + 1), *edges_of(pairs), max_size=50)
    assert len(partition(res)) == 1 and res.rejected == []
    # without a cap, the 30-person hub merges everybody
    pairs, people, hub = _people(30, 4)
    pairs += [(person[0], hub) for person in people]
    res = resolve_components(hub + 1, [0] * (hub + 1), *edges_of(pairs), max_size=None)
    assert len(partition(res)) == 1


def test_guard_keeps_existing_customers_apart_and_their_ids():
    pairs, people, hub = _people(20, 3)
    old = [0] * (hub + 1)
    for k, person in enumerate(people):
        for node in person:
            old[node] = k + 1
    hub_pairs = [(person[0], hub) for person in people]
    res = resolve_components(hub + 1, old, *edges_of(hub_pairs), max_size=50)
    assert res.absorbed == {}
    assert sorted(res.survivor.values()) == list(range(1, 21))
    assert res.component[hub] not in res.survivor  # the card gets its own new customer


def test_guard_with_two_hubs_isolates_both():
    pairs, people, card = _people(20, 3)
    email = card + 1
    pairs += [(p[0], card) for p in people] + [(p[1], email) for p in people]
    res = resolve_components(email + 1, [0] * (email + 1), *edges_of(pairs), max_size=50)
    assert res.new_hubs == {card, email}
    assert partition(res) == {frozenset(p) for p in people} | {frozenset({card}), frozenset({email})}


def test_known_hub_edges_are_rejected_up_front():
    pairs, people, hub = _people(3, 2)
    pairs += [(p[0], hub) for p in people]
    res = resolve_components(hub + 1, [0] * (hub + 1), *edges_of(pairs), max_size=50, known_hubs={hub})
    assert partition(res) == {frozenset(p) for p in people} | {frozenset({hub})}
    assert len(res.rejected) == 3 and all(r.known_hub and r.hub == hub for r in res.rejected)


def test_existing_customer_above_the_cap_is_not_split_or_rejected_without_new_edges():
    old = [1] * 60 + [0, 0]
    res = resolve_components(62, old, *edges_of([(60, 61)]), max_size=50)
    assert res.rejected == [] and res.oversized_components == 0
    assert len({res.component[i] for i in range(60)}) == 1


def test_guard_with_many_shared_identifiers_in_one_component_stays_fast_and_isolates_them():
    import time

    pairs, people, node = _people(2000, 3)
    rng = random.Random(5)
    cards = list(range(node, node + 100))
    for card in cards:  # 100 shared cards, each used by 30 random people: one giant component
        pairs += [(person[0], card) for person in rng.sample(people, 30)]
    n = node + len(cards)
    t = time.perf_counter()
    res = resolve_components(n, [0] * n, *edges_of(pairs), max_size=50)
    assert time.perf_counter() - t < 20
    assert partition(res) == {frozenset(p) for p in people} | {frozenset({c}) for c in cards}
    assert res.new_hubs == set(cards)
