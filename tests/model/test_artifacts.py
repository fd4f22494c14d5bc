"""The committed artifacts: present, small, named by their model card, and checked at load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiment.artifacts import (
    ArtifactError,
    default_model_dir,
    file_sha256,
    load,
    load_config,
)

MODELS = default_model_dir().parent


def test_committed_artifacts_stay_under_20_mb():
    total = sum(p.stat().st_size for p in MODELS.rglob("*") if p.is_file())
    assert total < 20 * 1024 * 1024


def test_model_card_names_the_weights_checksum_and_every_metric():
    card = (default_model_dir() / "MODEL_CARD.md").read_text()
    assert file_sha256(default_model_dir() / "weights.safetensors") in card
    metrics = json.loads((default_model_dir() / "metrics.json").read_text())
    judgment = metrics.pop("judgment")
    assert set(judgment) == set(metrics) == {"fp32", "int8"}
    for variant in [*metrics.values(), *judgment.values()]:
        for metric in variant:
            assert metric["name"] in card


def test_missing_artifacts_say_how_to_get_them(tmp_path: Path):
    with pytest.raises(ArtifactError, match="brandcare train"):
        load_config(tmp_path)


def test_artifacts_for_another_base_encoder_are_refused(tmp_path: Path):
    config = json.loads((default_model_dir() / "config.json").read_text())
    config["base_sha256"] = "0" * 64
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "weights.safetensors").write_bytes(
        (default_model_dir() / "weights.safetensors").read_bytes()
    )
    with pytest.raises(ArtifactError, match="another base encoder"):
        load(tmp_path)


def test_a_corrupt_weights_file_is_a_clear_error(tmp_path: Path):
    (tmp_path / "config.json").write_text((default_model_dir() / "config.json").read_text())
    (tmp_path / "weights.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ArtifactError, match="cannot read"):
        load(tmp_path)
