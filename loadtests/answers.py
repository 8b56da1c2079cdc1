"""A response of the right shape for an item of a paper as the API gives it (no locust
here: the benchmarks use it too)."""

from __future__ import annotations

from typing import Any


def answer_of(item: dict[str, Any], n: int) -> Any:
    """A response of the right shape for ``item`` (the n-th change of it)."""
    kind = item["kind"]
    options = [o["id"] for o in item.get("options", ())]
    if kind == "single":
        return options[n % len(options)]
    if kind == "multiple":
        return sorted({options[n % len(options)], options[(n + 1) % len(options)]})
    if kind == "true_false":
        return n % 2 == 0
    if kind == "matching":
        return [
            item["answers"][(i + n) % len(item["answers"])] for i in range(len(item["prompts"]))
        ]
    return f"答案{n}"
