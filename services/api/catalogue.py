"""The directions of methodical work (p.7, p.8, p.9, p.13, p.33), read-only."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from services.api.bodies import Blueprint
from marshmallow import Schema, fields, validate

from domain import directions

blp = Blueprint("catalogue", __name__, url_prefix="/api/v1/catalogue", description="The Order's catalogues")


class DirectionsArgs(Schema):
    level = fields.String(load_default=None, validate=validate.OneOf(directions.LEVELS))


class DirectionOut(Schema):
    """One direction: a numbered sub-item of the Order, in its Russian and Kazakh texts with an English label."""

    code = fields.String()
    clause = fields.String()
    number = fields.Integer()
    level = fields.String()
    text_ru = fields.String()
    text_kk = fields.String(metadata={"description": "The sub-item in Kazakh, in the terms of the Order's Kazakh version"})
    label_en = fields.String()
    duplicate_of = fields.String(allow_none=True, metadata={"description": "p.9 repeats itself: the earlier item"})


class DirectionsOut(Schema):
    items = fields.List(fields.Nested(DirectionOut))


@blp.route("/directions")
class Directions(MethodView):
    @blp.arguments(DirectionsArgs, location="query")
    @blp.response(200, DirectionsOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the directions of methodical work, of one level (school, college, university, unit, union) or all."""
        return {"items": directions.directions_for(args["level"])}
