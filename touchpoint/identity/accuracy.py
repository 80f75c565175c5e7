"""Pairwise accuracy of the identity map against a ground truth (the generator's
truth/identifiers.csv: identifier_type, identifier_value, person_id).

Definitions (docs/identity.md, "Accuracy"):

* Evaluated identifiers: those in both the truth and identity.identifier_map (public
  types only; the internal loyalty_member_id has no truth row).
* Precision: of all pairs of evaluated identifiers that the map puts in the same
  customer, the share that belong to the same person.
* Linkable pairs: two evaluated identifiers of one person are linkable when the data
  connects them through that person's own identifiers, i.e. they are in one connected
  component of the graph of edges (intermediate.int_identifier_edges_collected) whose
  two endpoints belong to that same person. Internal nodes (loyalty_member_id) belong
  to the person of their neighbours when those agree. Pairs the data never connects (a
  cookie that never logged in, a second email never typed next to the first) cannot
  be resolved by any method and are not counted against recall.
* Recall: of the linkable pairs, the share the map puts in the same customer.
* Also reported: recall over all same-person pairs of evaluated identifiers (what the
  data allows at best is far below 1 there) and coverage (truth identifiers mapped).
"""
from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import psycopg

from touchpoint.identity.graph import UnionFind
from touchpoint.identity.state import EDGES_RELATION, PUBLIC_IDENTIFIER_TYPES

Key = tuple[str, str]


def load_truth(path: str | Path) -> dict[Key, str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {(r["identifier_type"], r["identifier_value"]): r["person_id"] for r in csv.DictReader(fh)}


def load_map(conn: psycopg.Connection) -> dict[Key, str]:
    return {(t, v): c for t, v, c in conn.execute(
        "select identifier_type, identifier_value, customer_id from identity.identifier_map")}


def load_edges(conn: psycopg.Connection) -> list[tuple[Key, Key]]:
    return [((at, av), (bt, bv)) for at, av, bt, bv in conn.execute(
        f"""select distinct identifier_a_type, identifier_a_value, identifier_b_type, identifier_b_value
            from {EDGES_RELATION} where identifier_b_type is not null""")]


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score(truth: dict[Key, str], predicted: dict[Key, str], edges: list[tuple[Key, Key]]) -> dict:
    public = set(PUBLIC_IDENTIFIER_TYPES)
    evaluated = [k for k in predicted if k in truth and k[0] in public]
    eval_set = set(evaluated)

    # Precision over predicted same-customer pairs.
    by_customer: dict[str, Counter] = defaultdict(Counter)
    for k in evaluated:
        by_customer[predicted[k]][truth[k]] += 1
    predicted_pairs = sum(_pairs(sum(c.values())) for c in by_customer.values())
    correct_pairs = sum(_pairs(n) for c in by_customer.values() for n in c.values())
    false_merges = sorted(
        ((cust, dict(c)) for cust, c in by_customer.items() if len(c) > 1),
        key=lambda item: -sum(item[1].values()),
    )

    # Person of every node: truth, or for internal nodes the agreeing neighbours' person.
    person: dict[Key, str | None] = {k: truth[k] for k in truth}
    neighbour_persons: dict[Key, set] = defaultdict(set)
    for a, b in edges:
        if a not in truth and b in truth:
            neighbour_persons[a].add(truth[b])
        if b not in truth and a in truth:
            neighbour_persons[b].add(truth[a])
    for node, persons in neighbour_persons.items():
        person[node] = next(iter(persons)) if len(persons) == 1 else None

    # Components of the same-person edge graph.
    index: dict[Key, int] = {}
    for a, b in edges:
        for node in (a, b):
            if node not in index:
                index[node] = len(index)
    for k in evaluated:
        if k not in index:
            index[k] = len(index)
    uf = UnionFind(len(index))
    for a, b in edges:
        pa, pb = person.get(a), person.get(b)
        if pa is not None and pa == pb:
            uf.union(index[a], index[b])
    by_component: dict[int, Counter] = defaultdict(Counter)
    for k in evaluated:
        by_component[uf.find(index[k])][predicted[k]] += 1
    linkable_pairs = sum(_pairs(sum(c.values())) for c in by_component.values())
    linked_pairs = sum(_pairs(n) for c in by_component.values() for n in c.values())

    by_person: Counter = Counter(truth[k] for k in evaluated)
    same_person_pairs = sum(_pairs(n) for n in by_person.values())

    return {
        "truth_identifiers": len(truth),
        "mapped_identifiers": len(predicted),
        "evaluated_identifiers": len(evaluated),
        "coverage": round(len(evaluated) / len(truth), 6) if truth else None,
        "truth_identifiers_unmapped": len([k for k in truth if k not in predicted]),
        "mapped_public_identifiers_not_in_truth": len(
            [k for k in predicted if k[0] in public and k not in truth]),
        "customers": len({predicted[k] for k in evaluated}),
        "persons": len(by_person),
        "predicted_pairs": predicted_pairs,
        "correct_pairs": correct_pairs,
        "precision": correct_pairs / predicted_pairs if predicted_pairs else 1.0,
        "linkable_pairs": linkable_pairs,
        "linked_pairs": linked_pairs,
        "recall": linked_pairs / linkable_pairs if linkable_pairs else 1.0,
        "same_person_pairs": same_person_pairs,
        "recall_all_pairs": correct_pairs / same_person_pairs if same_person_pairs else 1.0,
        "false_merge_customers": len(false_merges),
        "false_merge_examples": false_merges[:5],
        "unmapped_examples": sorted(k for k in truth if k not in predicted)[:5],
        "not_in_truth_examples": sorted(k for k in predicted if k[0] in public and k not in truth)[:5],
    }


def score_warehouse(url: str, truth_path: str | Path) -> dict:
    """Score identity.identifier_map of the warehouse at `url` against a truth file."""
    truth = load_truth(truth_path)
    with psycopg.connect(url) as conn:
        predicted = load_map(conn)
        edges = load_edges(conn)
    return score(truth, predicted, edges)
