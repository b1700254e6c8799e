"""Settings: production refuses missing/weak secrets, development keeps generated
secrets in the data folder, list-valued variables accept JSON and CSV."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from kith.settings import Settings, SettingsError

GOOD_KEY = base64.b64encode(b"k" * 32).decode()
PRODUCTION_SECRETS = {
    "secret_key": "s" * 48,
    "encryption_keys": json.dumps({"k1": GOOD_KEY}),
    "blind_index_key": "b" * 32,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No KITH_* variable of the developer's shell (or a stray .env) leaks in."""
    for name in list(os.environ):
        if name.startswith("KITH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def production(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"env": "production", "data_dir": tmp_path / "data"}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("missing", ["secret_key", "encryption_keys", "blind_index_key"])
def test_production_without_a_secret_is_a_startup_error(tmp_path: Path, missing: str) -> None:
    values = {k: v for k, v in PRODUCTION_SECRETS.items() if k != missing}
    settings = production(tmp_path, **values)
    with pytest.raises(SettingsError, match=f"KITH_{missing.upper()}"):
        settings.validate_for_startup()
    # Production never falls back to generating secrets on disk.
    assert not (tmp_path / "data" / "secrets.json").exists()


def test_production_with_nothing_set_is_a_startup_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError):
        production(tmp_path).validate_for_startup()


@pytest.mark.parametrize("name", ["secret_key", "blind_index_key"])
def test_production_refuses_a_short_secret(tmp_path: Path, name: str) -> None:
    settings = production(tmp_path, **{**PRODUCTION_SECRETS, name: "x" * 31})
    with pytest.raises(SettingsError, match=f"KITH_{name.upper()} must be at least 32"):
        settings.validate_for_startup()


def test_production_reads_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITH_ENV", "production")
    monkeypatch.setenv("KITH_DATA_DIR", str(tmp_path / "data"))
    for name, value in PRODUCTION_SECRETS.items():
        monkeypatch.setenv(f"KITH_{name.upper()}", value)
    settings = Settings()
    settings.validate_for_startup()
    assert settings.is_production
    assert settings.resolved_secret_key == "s" * 48
    assert settings.resolved_encryption_keys == {"k1": b"k" * 32}
    assert settings.resolved_blind_index_key == b"b" * 32


def test_development_generates_secrets_once_private_and_reuses_them(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Settings(env="development", data_dir=data_dir)
    first.validate_for_startup()
    path = data_dir / "secrets.json"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert set(stored) == {"secret_key", "encryption_keys", "blind_index_key"}
    assert len(first.resolved_secret_key) >= 32
    (key,) = first.resolved_encryption_keys.values()
    assert len(key) == 32

    # The next start reads the same file instead of inventing new secrets
    # (sessions and encrypted columns must survive a restart).
    second = Settings(env="development", data_dir=data_dir)
    second.validate_for_startup()
    assert second.resolved_secret_key == first.resolved_secret_key
    assert second.resolved_encryption_keys == first.resolved_encryption_keys
    assert second.resolved_blind_index_key == first.resolved_blind_index_key
    assert json.loads(path.read_text()) == stored
    assert [p.name for p in data_dir.iterdir()] == ["secrets.json"]  # no temp leftovers


def test_development_keeps_explicit_secrets_over_generated_ones(tmp_path: Path) -> None:
    settings = Settings(env="development", data_dir=tmp_path / "data", secret_key="mine")
    settings.validate_for_startup()
    assert settings.resolved_secret_key == "mine"
    # The other two were generated and stored.
    assert "encryption_keys" in json.loads((tmp_path / "data" / "secrets.json").read_text())


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.is_sqlite
    assert settings.database_url == f"sqlite:///{(tmp_path / 'data' / 'kith.db').as_posix()}"


@pytest.mark.parametrize(
    "raw",
    [
        '["https://a.example", "https://b.example"]',
        "https://a.example,https://b.example",
        " https://a.example , https://b.example ,",
    ],
)
def test_cors_origins_accept_json_list_and_comma_separated(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("KITH_CORS_ORIGINS", raw)
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]


def test_empty_cors_origins_is_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITH_CORS_ORIGINS", "")
    assert Settings().cors_origins == []


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"k1": base64.b64encode(b"x" * 16).decode()}, "32 bytes"),
        ({"k1": base64.b64encode(b"x" * 33).decode()}, "32 bytes"),
        ({"k1": "not base64!"}, "base64"),
        ({"k:1": GOOD_KEY}, "without ':'"),
        ({}, "JSON object"),
        ([GOOD_KEY], "JSON object"),
    ],
)
def test_bad_encryption_keys_are_a_settings_error(
    tmp_path: Path, keys: object, message: str
) -> None:
    settings = production(tmp_path, **{**PRODUCTION_SECRETS, "encryption_keys": json.dumps(keys)})
    with pytest.raises(SettingsError, match=message):
        settings.validate_for_startup()


def test_encryption_keys_that_are_not_json_are_a_settings_error(tmp_path: Path) -> None:
    settings = production(tmp_path, **{**PRODUCTION_SECRETS, "encryption_keys": "k1=abc"})
    with pytest.raises(SettingsError, match="JSON object"):
        settings.validate_for_startup()


def test_key_order_is_kept_so_the_last_key_encrypts(tmp_path: Path) -> None:
    keys = {"old": base64.b64encode(b"o" * 32).decode(), "new": GOOD_KEY}
    settings = production(tmp_path, **{**PRODUCTION_SECRETS, "encryption_keys": json.dumps(keys)})
    assert list(settings.resolved_encryption_keys) == ["old", "new"]


def _resolve_secret(data_dir: str, results: Any) -> None:
    try:
        results.put(Settings(env="development", data_dir=Path(data_dir)).resolved_secret_key)
    except BaseException as exc:  # reported to the parent
        results.put(f"error: {exc!r}")


def test_development_processes_starting_together_agree_on_one_set_of_secrets(
    tmp_path: Path,
) -> None:
    """`kith serve --workers N` starts N processes on an empty data folder at once:
    none may crash on a half-written file or generate a second set of keys."""
    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        data_dir = tmp_path / f"data{attempt}"
        results = context.Queue()
        processes = [
            context.Process(target=_resolve_secret, args=(str(data_dir), results)) for _ in range(6)
        ]
        for process in processes:
            process.start()
        answers = {results.get(timeout=20) for _ in processes}
        for process in processes:
            process.join(timeout=20)
        assert len(answers) == 1, answers
        (answer,) = answers
        assert not answer.startswith("error"), answer
        assert json.loads((data_dir / "secrets.json").read_text())["secret_key"] == answer
