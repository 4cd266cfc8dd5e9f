"""Where the platform relies on a library's private attributes: one module per library.

Each module lists every use (the attribute, where, why no public API serves), the version it was checked on, and
`problems()`, which tests/unit/test_library_internals.py calls: it fails as soon as the installed library differs
from the one checked, so an upgrade is re-checked, not discovered in production.

The modules live in services/ because only services use them through accessors here. The projection runner's
uses of eventsourcing (projections/runner.py) cannot import services (dependencies point services -> projections
-> domain), so eventsourcing.py lists and checks them without owning the code that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Use:
    """One private attribute of a library that the platform relies on."""

    attribute: str
    where: str
    why: str
