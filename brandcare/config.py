"""Settings from the environment (and an optional ``.env``), built once per entry point.

Nothing reads the environment at import time: entry points call ``Settings()`` and pass
the result down, so tests can build their own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of brandcare; see the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="BRANDCARE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///brandcare.db"
    broker_url: str | None = None
    model_dir: Path | None = Field(
        default=None, description="folder with the scorer artifacts (default: models/scorer)"
    )
    score_quantize: bool = Field(
        default=True, description="int8 dynamic quantization on CPU (same accuracy, ~3x faster)"
    )
    score_batch_size: int = Field(default=64, ge=1, le=1024)
    score_threads: int | None = Field(default=None, ge=1)
    log_format: str = Field(default="text", pattern="^(text|json)$")
    log_level: str = "INFO"
