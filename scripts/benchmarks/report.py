"""The one shape every benchmark figure is printed in: one JSON line, the platform's number beside its baseline."""

from __future__ import annotations

import json
import sys
from typing import Any


def figure(benchmark: str, name: str, value: float, unit: str, *, baseline: float | None = None,
           baseline_of: str | None = None, target: str | None = None, met: bool | None = None,
           **details: Any) -> dict[str, Any]:
    """Return one figure: `value` (the platform's), its `baseline` measured in the same run, their ratio,
    the target it is held to and whether it was met; `details` adds what a reader needs (rates, counts)."""
    record: dict[str, Any] = {"benchmark": benchmark, "figure": name, "value": _round(value), "unit": unit}
    if baseline is not None:
        record["baseline"] = _round(baseline)
        record["baseline_of"] = baseline_of
        record["ratio"] = round(value / baseline, 3) if baseline else None
    if target is not None:
        record["target"] = target
        record["met"] = met
    record.update(details)
    return record


def emit(record: dict[str, Any]) -> None:
    """Print one figure as a JSON line on stdout."""
    print(json.dumps(record, ensure_ascii=False), file=sys.stdout, flush=True)


def _round(value: float) -> float:
    return round(value, 3) if isinstance(value, float) else value
