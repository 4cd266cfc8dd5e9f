"""A person's notifications (their reminders and what waits for them), their email choice, the organization's
reminder calendar, and the emails the operator watches (ADR 023)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from domain import policy
from domain.base import InvalidValue, NotFound
from domain.reminders import DEFAULT_MAIL, MAIL_CHOICES, ReminderSettings
from projections import notifications as notifications_rm
from projections.base import decode_cursor, encode_cursor
from services import reminders
from services.api.bodies import Blueprint
from services.api.common import Name, PageArgs, PositionSchema, caller, catch_up, context, runtime, with_position

blp = Blueprint("notifications", __name__, url_prefix="/api/v1",
                description="Notifications, reminders by email, and the reminders' calendar (ADR 023)")


class NotificationOut(Schema):
    """One notification: a reminder (kind `reminder`, its rule and clause), or a thing that waits for the person
    (`document`, `plan`, `circular`)."""

    key = fields.String(metadata={"description": "The notification's id, e.g. reminder:<uuid>"})
    kind = fields.String(metadata={"enum": ["reminder", "document", "plan", "circular"]})
    rule = fields.String()
    clause = fields.String()
    subject_id = fields.UUID()
    facts = fields.Dict()
    at = fields.DateTime()
    read = fields.Boolean()
    summary = fields.Boolean(metadata={"description": "Told for the person's digest only (the union's chair)"})


class NotificationPage(Schema):
    """A page of notifications, unread first, newest first."""

    items = fields.List(fields.Nested(NotificationOut))
    unread = fields.Integer()
    next_cursor = fields.String(allow_none=True)


class NotificationsArgs(PageArgs):
    """Filters of the notifications."""

    unread = fields.Boolean(load_default=None, metadata={"description": "Only unread ones (true) or read (false)"})


class Marked(PositionSchema):
    """How many notifications were marked read."""

    marked = fields.Integer()


class MailIn(Schema):
    """How reminders come by email: each at once, a daily or weekly digest, or none."""

    mail = fields.String(required=True, validate=validate.OneOf(MAIL_CHOICES))


class MailOut(Schema):
    mail = fields.String()
    email = fields.String(allow_none=True)


class MailChanged(MailOut, PositionSchema):
    """The choice after it was saved."""


class RemindersIn(Schema):
    """When the platform reminds: the tenant's time zone, the plans' due day (MM-DD), days a document or a
    circular may wait."""

    time_zone = Name(required=True, validate=validate.Length(min=1, max=64),
                     metadata={"description": "A zone of the tz database, e.g. Asia/Almaty"})
    plan_due = fields.String(required=True, validate=validate.Regexp(r"^\d{2}-\d{2}$"))
    document_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=365))
    circular_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=365))


class RemindersOut(Schema):
    time_zone = fields.String()
    plan_due = fields.String()
    document_days = fields.Integer()
    circular_days = fields.Integer()
    default = fields.Boolean()


class RemindersChanged(RemindersOut, PositionSchema):
    """The settings after they were set."""


class FailedMailOut(Schema):
    """An email given up on after its retries: to whom, what, why."""

    key = fields.String()
    tenant_id = fields.UUID()
    person_id = fields.UUID()
    kind = fields.String()
    period = fields.String()
    email = fields.String()
    attempts = fields.Integer()
    error = fields.String(allow_none=True)
    created_at = fields.DateTime()


class FailedMailPage(Schema):
    items = fields.List(fields.Nested(FailedMailOut))
    next_cursor = fields.String(allow_none=True)


def person_inbox(tenant_id: UUID, person_id: UUID, roles: list[str]) -> list[dict[str, Any]]:
    """Return the person's notifications as of their organization's today."""
    rt = runtime()
    with rt.engine.connect() as conn:
        today = notifications_rm.settings_for(conn, tenant_id).today(rt.clock())
        return notifications_rm.inbox(conn, tenant_id, person_id, roles, today)


@blp.route("/me/notifications")
class Notifications(MethodView):
    @blp.arguments(NotificationsArgs, location="query")
    @blp.response(200, NotificationPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the caller's notifications: unread first, then newest first."""
        who = caller()
        who.acting_for(policy.READ_NOTIFICATIONS, None)
        catch_up(notifications_rm.read_model)
        items = person_inbox(who.person.tenant_id, who.person.id, list(who.person.roles))
        unread = sum(1 for i in items if not i["read"])
        if args["unread"] is not None:
            items = [i for i in items if i["read"] is not args["unread"]]
        start = decode_cursor(args.get("cursor"))
        chunk = items[start:start + args["limit"]]
        more = start + args["limit"] < len(items)
        return {"items": chunk, "unread": unread, "next_cursor": encode_cursor(start + args["limit"]) if more else None}


@blp.route("/me/notifications/read")
class AllRead(MethodView):
    @blp.response(200, Marked)
    def post(self) -> dict[str, Any]:
        """Mark every notification of the caller read."""
        who = caller()
        actor = who.acting_for(policy.MARK_NOTIFICATIONS_READ, None)
        keys = [i["key"] for i in person_inbox(who.person.tenant_id, who.person.id, list(who.person.roles))
                if not i["read"]]
        done = runtime().platform.mark_read(context(actor), who.person.tenant_id, who.person.id, keys)
        return with_position({"marked": len(keys)}, done.position)


@blp.route("/me/notifications/<string:nid>/read")
class OneRead(MethodView):
    @blp.response(200, Marked)
    def post(self, nid: str) -> dict[str, Any]:
        """Mark one notification of the caller read (reading it twice changes nothing)."""
        who = caller()
        actor = who.acting_for(policy.MARK_NOTIFICATIONS_READ, None)
        found = [i for i in person_inbox(who.person.tenant_id, who.person.id, list(who.person.roles))
                 if i["key"] == nid]
        if not found:
            raise NotFound("notification")
        keys = [] if found[0]["read"] else [nid]
        done = runtime().platform.mark_read(context(actor), who.person.tenant_id, who.person.id, keys)
        return with_position({"marked": len(keys)}, done.position)


@blp.route("/me/mail")
class Mail(MethodView):
    @blp.response(200, MailOut)
    def get(self) -> dict[str, Any]:
        """Return how reminders come to the caller by email."""
        who = caller()
        who.acting_for(policy.CHOOSE_MAIL, None)
        person = runtime().platform.get_person(who.person.tenant_id, who.person.id)
        return {"mail": person.mail or DEFAULT_MAIL, "email": person.login}

    @blp.arguments(MailIn)
    @blp.response(200, MailChanged)
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Choose how reminders come by email: at_once, daily, weekly or none."""
        who = caller()
        actor = who.acting_for(policy.CHOOSE_MAIL, None)
        done = runtime().platform.choose_mail(context(actor), who.person.tenant_id, who.person.id, body["mail"])
        return with_position({"mail": done.aggregate.mail, "email": done.aggregate.login}, done.position)


@blp.route("/tenants/<uuid:tid>/reminders")
class TenantReminders(MethodView):
    @blp.response(200, RemindersOut)
    def get(self, tid: UUID) -> dict[str, Any]:
        """Return when the platform reminds the organization's people."""
        caller().acting_for(policy.READ_REMINDERS, tid)
        catch_up(notifications_rm.read_model)
        with runtime().engine.connect() as conn:
            found = notifications_rm.settings_of(conn, [tid]).get(tid)
        defaults = ReminderSettings()
        values = found or {"time_zone": defaults.time_zone, "plan_due": defaults.plan_due,
                           "document_days": defaults.document_days, "circular_days": defaults.circular_days}
        return {**values, "default": found is None}

    @blp.arguments(RemindersIn)
    @blp.response(200, RemindersChanged)
    def put(self, body: dict[str, Any], tid: UUID) -> dict[str, Any]:
        """Set the organization's time zone, plan due day and waiting days (head or deputy head)."""
        actor = caller().acting_for(policy.SET_REMINDERS, tid)
        done = runtime().platform.set_reminders(context(actor), tid, **body)
        return with_position({**done.aggregate.reminders, "default": False}, done.position)


@blp.route("/mail/failed")
class FailedMail(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, FailedMailPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the emails given up on after their retries (the operator)."""
        caller().acting_for(policy.LIST_FAILED_MAIL, None)
        after = ""
        if args.get("cursor"):
            import base64
            import binascii

            try:
                after = base64.urlsafe_b64decode(args["cursor"] + "=" * (-len(args["cursor"]) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise InvalidValue("The cursor is not one this service made.", field="cursor") from None
        with runtime().engine.connect() as conn:
            rows = reminders.failed(conn, limit=args["limit"], after=after)
        more = len(rows) > args["limit"]
        rows = rows[: args["limit"]]
        import base64

        cursor = base64.urlsafe_b64encode(rows[-1].key.encode()).decode().rstrip("=") if more else None
        return {"items": rows, "next_cursor": cursor}
