"""Brands and queries from a small config file, so a deployment is described, not clicked.

The demo uses the bundled ``samples/demo_brands.json``; production points
``brandcare setup FILE`` at its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from brandcare.config.profile_env import PROFILE_NAME_CHARS, is_profile_name
from brandcare.store.models import BrandRow, QueryRow


class SetupError(ValueError):
    """The brands file is missing or invalid; the message names the problem."""


class QuerySpec(BaseModel):
    """One query to watch."""

    model_config = ConfigDict(extra="forbid")

    platform: str
    kind: str
    terms: str
    interval_seconds: int = Field(default=300, ge=5)
    daily_budget_usd: float | None = Field(default=None, ge=0)
    monthly_budget_usd: float | None = Field(default=None, ge=0)


class BrandSpec(BaseModel):
    """One brand: its voice, its first-response SLA and its queries."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str
    sla_minutes: int = Field(default=60, ge=1)
    voice: dict[str, Any] = Field(default_factory=dict)
    queries: list[QuerySpec] = Field(default_factory=list)
    #: The credentials profile whose keys (``X_API_KEY__<PROFILE>``...) the brand reads
    #: and posts with; null: the deployment-wide keys. Left out of the file, a brand keeps
    #: the profile it has: re-applying an older file must not quietly move a brand onto
    #: the deployment-wide account (its replies would go out from another brand's).
    credentials: str | None = None

    @field_validator("credentials")
    @classmethod
    def _profile_name(cls, value: str | None) -> str | None:
        if value is not None and not is_profile_name(value):
            raise ValueError(
                f"credentials {value!r} is not a profile name: lowercase letters and digits, "
                f"single underscores between them, at most {PROFILE_NAME_CHARS} characters"
            )
        return value


def load_brands(path: Path) -> list[BrandSpec]:
    """Read and validate a brands file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SetupError(f"cannot read brands file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise SetupError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from exc
    try:
        return [BrandSpec.model_validate(item) for item in data["brands"]]
    except (KeyError, TypeError) as exc:
        raise SetupError(f'{path} must be {{"brands": [...]}}') from exc
    except ValidationError as exc:
        raise SetupError(f"{path}: {exc}") from exc


def apply_brands(session: Session, brands: list[BrandSpec]) -> dict[str, int]:
    """Create or update brands and their queries; returns slug -> brand id. Idempotent."""
    ids: dict[str, int] = {}
    for spec in brands:
        brand = session.scalars(select(BrandRow).where(BrandRow.slug == spec.slug)).first()
        if brand is None:
            brand = BrandRow(slug=spec.slug, name=spec.name)
            session.add(brand)
        brand.name, brand.voice, brand.sla_minutes = spec.name, spec.voice, spec.sla_minutes
        if "credentials" in spec.model_fields_set:
            brand.credentials = spec.credentials
        session.flush()
        for q in spec.queries:
            row = session.scalars(
                select(QueryRow).where(
                    QueryRow.brand_id == brand.id,
                    QueryRow.platform == q.platform,
                    QueryRow.kind == q.kind,
                    QueryRow.terms == q.terms,
                )
            ).first()
            if row is None:
                row = QueryRow(brand_id=brand.id, platform=q.platform, kind=q.kind, terms=q.terms)
                session.add(row)
            row.interval_seconds = q.interval_seconds
            row.daily_budget_usd = q.daily_budget_usd
            row.monthly_budget_usd = q.monthly_budget_usd
            row.enabled = True
        session.flush()
        ids[spec.slug] = brand.id
    return ids
