"""Human-readable API documentation: Swagger UI over the live OpenAPI document, served from the
swagger-ui-bundle package (no CDN: the platform works offline)."""

from __future__ import annotations

from flask import Blueprint, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

PREFIX = "/api/v1/docs"
blp = Blueprint("swagger-ui", __name__, url_prefix=PREFIX)

# Swagger UI's own page and initializer load a demo document from the internet through an inline script; this
# page loads the bundle's files and our initializer, all from here, so the page's policy allows no inline script.
_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Methodical work platform: API (Order No. 583)</title>
  <link rel="stylesheet" href="{prefix}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{prefix}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{prefix}/swagger-ui-bundle.js"></script>
  <script src="{prefix}/swagger-ui-standalone-preset.js"></script>
  <script src="{prefix}/initializer.js"></script>
</body>
</html>
""".format(prefix=PREFIX)

_INITIALIZER = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
"""

# Swagger UI sets styles on its elements and shows images as data: URLs.
_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png")


def _with_policy(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = _POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.get("/")
def page() -> Response:
    """Serve Swagger UI's page."""
    return _with_policy(Response(_PAGE, mimetype="text/html"))


@blp.get("/initializer.js")
def initializer() -> Response:
    """Serve the script that points Swagger UI at this service's OpenAPI document."""
    return _with_policy(Response(_INITIALIZER, mimetype="text/javascript"))


@blp.get("/<any(" + ", ".join(f'"{name}"' for name in _FILES) + "):name>")
def asset(name: str) -> Response:
    """Serve one of Swagger UI's files from the package."""
    response = send_from_directory(swagger_ui_path, name, max_age=86400)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return _with_policy(response)
