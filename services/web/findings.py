"""The compliance findings of an organization, told in the page's language with their clause and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from flask_babel import format_date
from flask_babel import gettext as _

from domain.compliance import DEFAULT_QUARTERS, findings
from domain.units import UNIT_KINDS
from projections import tenants as tenants_rm
from services.api.common import runtime
from services.api.compliance import compliance_facts
from services.web import i18n


@dataclass(frozen=True)
class ShownFinding:
    """One finding as a page shows it."""

    clause: str
    code: str
    unit: str
    what: str
    fix: str
    since: str


def findings_of(tenant_id: UUID, today: date) -> list[ShownFinding]:
    """Return the organization's findings as of today, through the same query as the API's compliance report."""
    with runtime().engine.connect() as conn:
        tenant = tenants_rm.get_tenant(conn, tenant_id)
        quarters = tenant.quarters if tenant is not None and tenant.quarters else [list(q) for q in DEFAULT_QUARTERS]
        facts = {f.unit_id: f for f in compliance_facts(conn, tenant_id, today)}
    shown = []
    for finding in findings(facts.values(), today, [tuple(q) for q in quarters]):
        unit = facts[finding.unit_id]
        what, fix = _told(finding.code, unit.members, UNIT_KINDS[unit.kind].minimum or 0)
        shown.append(ShownFinding(i18n.clause(finding.clause), finding.code, unit.name, what, fix,
                                  format_date(finding.since, "long")))
    return shown


def _told(code: str, members: int, minimum: int) -> tuple[str, str]:
    if code == "below_minimum":
        return (_("%(members)s member(s); at least %(minimum)s are needed.", members=members, minimum=minimum),
                _("Add members, or merge the unit with another."))
    if code == "no_leader":
        return _("The unit has no leader."), _("Elect or appoint a leader for one year.")
    if code == "leader_term_expired":
        return _("The leader's one-year term has ended."), _("Elect or appoint a leader for the new year.")
    if code == "no_approved_plan":
        return (_("There is no approved work plan for this academic year."),
                _("The leader drafts the plan; the head approves it."))
    if code == "no_meeting_in_quarter":
        return _("No meeting was held in a quarter."), _("Hold a meeting and record its minutes.")
    if code == "too_few_meetings":
        return _("Fewer meetings a year than the Rules require."), _("Hold the missing meetings.")
    return code, ""
