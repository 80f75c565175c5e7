"""Ground truth: who is behind each identifier, each person's daily stage, feedback labels."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from touchpoint.generator import rates as R
from touchpoint.generator.simulate import World

ID_TYPES = ("email", "phone", "account_id", "loyalty_card", "cookie_id", "app_instance_id", "social_handle")


def write_truth(world: World, out: Path, bad_rows: list[tuple[str, str, int, str]]) -> dict:
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    pid = world.pop.pid

    ids = sorted(world.identifiers.items(), key=lambda kv: (ID_TYPES.index(kv[0][0]), kv[0][1]))
    with open(truth / "identifiers.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write("identifier_type,identifier_value,person_id\n")
        fh.writelines(f"{t},{v},{pid[p]}\n" for (t, v), p in ids)

    # One row per person per day from the day they are aware (stage != unaware).
    dates = [d.isoformat() for d in world.dates]
    stages = world.stages
    aware = stages != R.UNAWARE
    n_rows = int(aware.sum())
    with open(truth / "journey_stages.csv", "w", encoding="utf-8", newline="", buffering=1 << 20) as fh:
        fh.write("person_id,date,stage\n")
        names = R.STAGES
        for p in np.flatnonzero(aware.any(axis=1)).tolist():
            row = stages[p].tolist()
            prefix = pid[p] + ","
            fh.write("".join(prefix + dates[d] + "," + names[s] + "\n" for d, s in enumerate(row) if s))

    labels = sorted(world.feedback)
    with open(truth / "feedback_labels.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write("source,record_id,sentiment,category\n")
        fh.writelines(f"{s},{r},{sent},{cat}\n" for s, r, sent, cat in labels)

    with open(truth / "bad_rows.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write("source,file,line_number,fault\n")
        fh.writelines(f"{s},{f},{n},{fault}\n" for s, f, n, fault in bad_rows)
    return {"identifiers": len(ids), "journey_rows": n_rows, "feedback_labels": len(labels), "bad_rows": len(bad_rows)}
