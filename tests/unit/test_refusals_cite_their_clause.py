"""Every refusal whose words cite a clause of the Order carries that clause in its `clause` field too, so that a
client (and an auditor) reads it without parsing the text: walked over every refusal written in the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFUSALS = {"DomainError", "RuleViolation", "InvalidValue", "Conflict", "NotPermitted", "Unsupported",
            "UnitKindNotAllowed"}
# A citation is written "(p.26)" or "p.26)"; "p.N.k" as an example of the notation cites nothing.
CITES = re.compile(r"\(p\.\d|\bp\.\d+(\.\d+)?\)")


def _text(node: ast.AST) -> str:
    """Return the literal text of a message (the constant parts of an f-string)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        # A clause written in by a variable ("... ({clause})") cites one as surely as a literal "p.26".
        return "(p.0)" if "clause" in ast.unparse(node.value) else ""
    if isinstance(node, ast.BinOp):
        return _text(node.left) + _text(node.right)
    return ""


def _refusals() -> list[tuple[str, int, str, ast.Call]]:
    found = []
    for folder in ("domain", "services"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REFUSALS \
                        and node.args:
                    found.append((str(path.relative_to(ROOT)), node.lineno, _text(node.args[0]), node))
    return found


def test_a_refusal_that_cites_a_clause_in_its_words_carries_it_as_its_clause():
    refusals = _refusals()
    silent = []
    for path, line, text, call in refusals:
        if not CITES.search(text):
            continue
        clause = call.args[1] if len(call.args) > 1 else next(
            (k.value for k in call.keywords if k.arg == "clause"), None)
        if clause is None or (isinstance(clause, ast.Constant) and clause.value is None):
            silent.append(f"{path}:{line}: {text[:80]!r}")
    assert len(refusals) > 100, "too few refusals found for this walk to mean anything"
    assert silent == []
