"""Every refusal the platform can say has its Russian and Kazakh words: walked over the code's refusals, the
policy's phrases, the domain's vocabulary and the libraries' messages, then said through the same function the
API and the pages use (services/refusals.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import marshmallow.fields
import pytest
from babel.messages.pofile import read_po

from domain import documents, policy, rules, unions, units
from domain.base import NotFound, Phrase, Series, Term
from services import refusals
from services.api import errors

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "services" / "web" / "translations"
REFUSALS = {"DomainError", "RuleViolation", "InvalidValue", "Conflict", "NotPermitted", "Unsupported",
            "UnitKindNotAllowed", "UnsupportedFile", "UnreadableBody", "ValidationError", "Phrase"}
# Calls whose literal argument is a word of the vocabulary (a Term), and which argument it is.
TERMS = {"NotFound": 0, "_open": 0, "_text": 2, "Term": 0}


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _literals(node: ast.AST) -> list[str]:
    """Return the texts an expression may be: a literal, or either branch of `a if c else b`."""
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return [text] if (text := _literal(node)) is not None else []


def _walk() -> tuple[set[str], set[str], list[str]]:
    """Return the templates and terms written in domain/ and services/, and the refusals that are no template."""
    templates, terms, unkeyed = set(), set(), []
    for folder in ("domain", "services"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            # A refusal worded through a name: every text assigned to that name in the module.
            constants: dict[str, list[str]] = {}
            for n in ast.walk(tree):
                if isinstance(n, ast.Assign):
                    for t in n.targets:
                        if isinstance(t, ast.Name) and _literals(n.value):
                            constants.setdefault(t.id, []).extend(_literals(n.value))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if name == "__init__" and folder == "domain" and node.args:
                    name = "DomainError"  # a refusal's own class words itself (DuplicateBin)
                if name in REFUSALS and node.args:
                    first = node.args[0]
                    texts = _literals(first) or (constants.get(first.id, []) if isinstance(first, ast.Name) else [])
                    templates.update(texts)
                    if folder == "domain" and isinstance(first, ast.JoinedStr):
                        unkeyed.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                if name in TERMS and len(node.args) > TERMS[name] and _literal(node.args[TERMS[name]]):
                    terms.add(_literal(node.args[TERMS[name]]))
                if name == "problem" and folder == "services" and len(node.args) > 1:
                    templates.update(_literals(node.args[1]))  # a problem's detail, worded where it is answered
                # A schema's own message for a field it refuses (marshmallow's validators take `error=`).
                templates |= {text for k in node.keywords if k.arg == "error" for text in _literals(k.value)}
                if name in ("check_within", "check_day"):
                    templates |= {_literal(k.value) for k in node.keywords if k.arg == "what" and _literal(k.value)}
    return templates, terms, unkeyed


def keys() -> tuple[set[str], set[str]]:
    """Return every template and every vocabulary code the platform's refusals may say."""
    templates, terms, _ = _walk()
    templates |= set(policy.NEEDS.values())
    for action in policy.ACTIONS.values():
        templates.add(action.doing)
        if action.doing.startswith("Approving") and action is not policy.DECIDE_ON_DOCUMENT:
            templates.add("Rejecting" + action.doing.removeprefix("Approving"))
        templates |= {action.note} if action.note else set()
        templates |= {relation.words for relation in action.relations}
    templates |= {rule.reason for rule in rules.ROLE_RULES.values()}
    templates |= {rule.reason for rule in rules.PARENT_RULES.values()}
    templates |= set(errors.TITLES.values())
    templates |= {m for field in vars(marshmallow.fields).values() if isinstance(field, type)
                  and issubclass(field, marshmallow.fields.Field)
                  for m in getattr(field, "default_error_messages", {}).values() if "{" not in m}
    terms |= set(rules.ROLES) | set(rules.TENANT_KINDS) | set(units.UNIT_KINDS) | set(documents.DOCUMENT_KINDS)
    terms |= set(documents.STATUSES) | set(unions.CIRCULAR_STATUSES) | {"direction", "title"}
    return templates, terms


def _catalogue(language: str) -> dict[tuple[str | None, str], str]:
    with (CATALOGUE / language / "LC_MESSAGES" / "refusals.po").open("rb") as handle:
        return {(m.context, m.id): m.string for m in read_po(handle, locale=language) if m.id and not m.fuzzy}


def test_every_refusal_of_the_domain_is_a_template_with_its_facts():
    assert _walk()[2] == [], "an f-string refusal cannot be translated: write a template and pass its facts"


@pytest.mark.parametrize("language", ["ru", "kk"])
def test_every_refusal_key_is_translated(language):
    templates, terms = keys()
    assert len(templates) > 150 and len(terms) > 40, "too few keys for this walk to mean anything"
    said = _catalogue(language)
    missing = sorted(t for t in templates if not said.get((None, t)))
    missing += sorted(f"term:{t}" for t in terms if not said.get(("term", t)))
    missing += [f"series:{j}" for j in ("or", "and") if not said.get(("series", j))]
    assert missing == [], f"untranslated in {language}: {missing}"


def test_a_refusal_is_said_with_its_facts_and_the_clause_as_the_language_writes_it():
    refused = units.UnitKindNotAllowed("A %(tenant_kind)s cannot have a %(kind)s; it is formed in: %(where)s.",
                                       "p.16", "kind", tenant_kind=Term("school"), kind=Term("department"),
                                       where=Series([Term("postsecondary_college"), Term("university")]))
    assert refused.detail == ("A school cannot have a department; it is formed in: postsecondary_college, "
                              "university.")
    ru = refusals.detail(refused, "ru")
    assert "кафедр" in ru.lower() and "школ" in ru.lower() and "department" not in ru
    needs = policy.APPROVE_PLAN.refused()
    assert needs.detail == ("Approving an annual plan needs the head of the organization that formed the unit "
                            "(p.29).")
    assert "п. 29" in refusals.detail(needs, "ru") and "29-тармақ" in refusals.detail(needs, "kk")
    assert refusals.detail(NotFound("unit"), "en") == "No such unit."


def test_a_translation_keeps_the_facts_of_its_template():
    for language in ("ru", "kk"):
        for (context, key), text in _catalogue(language).items():
            if context is None and text:
                facts = {name: "x" for name in Phrase(key).template.split("%(")[1:] for name in [name.split(")")[0]]}
                for name in facts:
                    assert f"%({name})" in text, f"{language}: {key!r} lost %({name})"
