"""Invitations to sign in: a link with which a person sets their password (ADR 021)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from domain import policy, rules
from services.api.bodies import Blueprint
from services.api.common import Name, PositionSchema, caller, context, runtime
from services.web import mails
from services.web.i18n import LANGUAGES

blp = Blueprint("invitations", __name__, url_prefix="/api/v1/tenants/<uuid:tid>/people/<uuid:pid>/invitations",
                description="Invitations to sign in")


class InvitationIn(Schema):
    """Whom to invite: the email becomes the person's login (needed unless they have one)."""

    # Checked (trimmed, lower-cased) by the domain, so that the API and the pages accept the same addresses.
    email = Name(load_default=None, validate=validate.Length(min=1, max=300))
    language = fields.String(load_default=None, validate=validate.OneOf(LANGUAGES),
                             metadata={"description": "of the link and the email; default: the person's, then "
                                                      "the organization's"})


class InvitationOut(PositionSchema):
    """The link (shown once), when it stops working, and whether it was emailed."""

    url = fields.String(required=True)
    expires_at = fields.DateTime(required=True)
    login = fields.String()
    mailed = fields.Boolean()


def link_url(language: str, path: str, token: str) -> str:
    """Return the address of a page of the web for a link's secret."""
    base = runtime().settings.public_url or request.host_url.rstrip("/")
    return f"{base}/{language}/{path}/{token}"


@blp.route("")
class Invitations(MethodView):
    @blp.arguments(InvitationIn)
    @blp.response(201, InvitationOut)
    def post(self, body: dict[str, Any], tid: UUID, pid: UUID) -> dict[str, Any]:
        """Invite the person to set a password (head or deputy head; the operator for a head); one use, expires."""
        who = caller()
        actor = who.acting_for(policy.INVITE_PERSON, tid)
        rt = runtime()
        ctx = context(actor)
        if who.is_operator:
            head = rules.HEAD in rt.platform.get_person(tid, pid).roles
            ctx = policy.INVITE_PERSON.permit(ctx, {policy.FOR_A_HEAD: head})
        issued = rt.platform.invite(ctx, tid, pid, email=body["email"], days=rt.settings.invitation_days)
        tenant = rt.platform.get_tenant(tid)
        language = body["language"] or issued.person.language or tenant.language or "ru"
        url = link_url(language, "invitations", issued.token)
        mailed = False
        if rt.settings.smtp_host and issued.person.login:
            notice = mails.compose(rt.settings, to=issued.person.login, language=language, kind="invitation",
                                   url=url, expires_at=issued.expires_at, full_name=issued.person.full_name,
                                   tenant=tenant.name)
            mailed = mails.send(rt.settings, notice)
        return {"url": url, "expires_at": issued.expires_at, "login": issued.person.login, "mailed": mailed,
                "position": str(issued.position)}
