"""The private attributes of libraries the platform relies on are listed per library and still hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services import circular_pdf
from services.internals import apispec, eventsourcing, fpdf2, marshmallow, psycopg_pool, rq

ROOT = Path(__file__).resolve().parents[2]
MODULES = [apispec, eventsourcing, fpdf2, marshmallow, psycopg_pool, rq]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_each_use_of_a_library_internal_still_holds_on_the_installed_version(module):
    problems = module.problems(circular_pdf._FPDF_DROPPED) if module is fpdf2 else module.problems()
    assert problems == [], f"re-check {module.__name__}.USES against the installed library, then CHECKED_ON"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_each_listed_use_names_where_it_is_made_and_why(module):
    assert module.USES
    for use in module.USES:
        path = use.where.split(" ", 1)[0]
        assert (ROOT / path).is_file(), use
        assert len(use.why) > 40, use


def test_a_private_attribute_is_used_only_through_the_modules_that_list_it():
    # projections/runner.py's eventsourcing uses are listed in services/internals/eventsourcing.py (projections may
    # not import services); tests may reach into what they set up.
    allowed = {ROOT / "services" / "internals", ROOT / "tests"}
    listed = {ROOT / "projections" / "runner.py"}
    unlisted = []
    for folder in ("domain", "projections", "services", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            if path in listed or any(parent in allowed for parent in path.parents):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if re.search(r"noqa: SLF001", line):
                    unlisted.append(f"{path.relative_to(ROOT)}:{number}")
    assert unlisted == []
