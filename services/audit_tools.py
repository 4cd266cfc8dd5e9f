"""Operator commands of the audit: verify the chain, checkpoint it, export a tenant, import an export."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from uuid import UUID

from services.config import Settings


def _engine(settings: Settings):  # noqa: ANN202 - a SQLAlchemy engine
    from projections.base import make_engine
    from projections.registry import create_schema

    engine = make_engine(settings.sqlalchemy_url(), 2)
    create_schema(engine)
    return engine


def verify_command(args: argparse.Namespace) -> int:
    """Print the chain's verification report as JSON; exit 1 when the log was altered."""
    from projections.chain import verify

    from services import metrics

    report = verify(_engine(Settings.from_env()))
    metrics.chain_verified(report)  # counted where the command shares the platform's metrics directory
    print(json.dumps(report))
    return 0 if report["ok"] else 1


def checkpoint_command(args: argparse.Namespace) -> int:
    """Record a checkpoint of the chain's head (signed with AUDIT_SIGNING_KEY when set) and print it."""
    from projections.chain import Chainer

    settings = Settings.from_env()
    with _engine(settings).begin() as conn:
        try:
            print(json.dumps(Chainer(settings.signing_key()).checkpoint(conn)))
        except ValueError as error:
            print(f"no checkpoint: {error}", file=sys.stderr)
            return 1
    return 0


def export_command(args: argparse.Namespace) -> int:
    """Write a tenant's events.jsonl and manifest.json into a directory."""
    from services.audit import export_tenant

    target = Path(args.directory)
    target.mkdir(parents=True, exist_ok=True)
    body, manifest = export_tenant(_engine(Settings.from_env()), UUID(args.tenant_id))
    (target / "events.jsonl").write_bytes(body)
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest))
    return 0


def import_command(args: argparse.Namespace) -> int:
    """Import an export into an empty event store, then rebuild every read model from it."""
    from projections.runner import READ_MODELS, rebuild_read_models
    from services.applications import Platform
    from services.audit import ImportRefused, import_export

    settings = Settings.from_env()
    source = Path(args.directory)
    platform = Platform(env=settings.eventsourcing_env())  # creates the event store's tables
    engine = _engine(settings)
    try:
        count = import_export(engine, (source / "events.jsonl").read_bytes(),
                              json.loads((source / "manifest.json").read_text()))
    except ImportRefused as error:
        print(f"import refused: {error}", file=sys.stderr)
        return 1
    rebuilt = rebuild_read_models(platform, engine, list(READ_MODELS))
    print(json.dumps({"imported": count, "rebuilt": rebuilt}))
    return 0
