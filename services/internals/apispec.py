"""apispec internals: the OpenAPI document's paths, completed after every blueprint is registered."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from apispec import APISpec

from services.internals import Use

CHECKED_ON = "6.10.1"
USES = (
    Use("APISpec._paths", "services/api/errors.py (document_problems), services/api/idempotency.py",
        "the problems every operation may answer and the Idempotency-Key parameter are added to every operation "
        "once all blueprints are registered; apispec exposes the paths only as a copy (to_dict()), and a "
        "plugin's operation_helper runs per path as it is added, before the blueprints' own responses are known."),
)


def paths(spec: Any) -> dict[str, dict[str, Any]]:
    """Return the spec's paths as it keeps them (changes show in the published document)."""
    return spec._paths  # type: ignore[no-any-return]  # noqa: SLF001 - see USES


def problems() -> list[str]:
    """Return what no longer holds of the uses above in the installed apispec (empty when all do)."""
    found = []
    if version("apispec") != CHECKED_ON:
        found.append(f"apispec {version('apispec')} is installed; the uses were checked on {CHECKED_ON}")
    spec = APISpec("probe", "1", "3.1.0")
    spec.path("/probe", operations={"get": {"responses": {"200": {"description": "ok"}}}})
    try:
        paths(spec)["/probe"]["get"]["x-probe"] = True
    except (AttributeError, KeyError, TypeError):
        found.append("APISpec keeps its paths elsewhere than _paths")
    else:
        if spec.to_dict()["paths"]["/probe"]["get"].get("x-probe") is not True:
            found.append("a change to APISpec._paths no longer shows in to_dict()")
    return found
