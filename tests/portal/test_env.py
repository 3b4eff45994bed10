"""portal/env.py: every knob is an environment variable, read strictly."""

from __future__ import annotations

import stat

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_list, env_secret, env_str, local_secret_key

NAME = "SIDESTAGE_TEST_KNOB"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in (NAME, f"{NAME}_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_env_str_returns_the_value_or_the_default(monkeypatch):
    assert env_str(NAME, "fallback") == "fallback"
    monkeypatch.setenv(NAME, " spaced ")
    assert env_str(NAME, "fallback") == " spaced "


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on", " On "])
def test_env_bool_true_spellings(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    assert env_bool(NAME, False) is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "off", ""])
def test_env_bool_false_spellings(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    assert env_bool(NAME, True) is False


def test_env_bool_unset_is_the_default():
    assert env_bool(NAME, True) is True
    assert env_bool(NAME, False) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "ture", "y es"])
def test_env_bool_refuses_junk_and_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured, match=rf"{NAME} must be a boolean.*{raw!r}"):
        env_bool(NAME, False)


def test_env_int(monkeypatch):
    assert env_int(NAME, 7) == 7
    monkeypatch.setenv(NAME, "  ")
    assert env_int(NAME, 7) == 7  # blank means "not set"
    monkeypatch.setenv(NAME, "42")
    assert env_int(NAME, 7) == 42
    monkeypatch.setenv(NAME, "-3")
    assert env_int(NAME, 7) == -3


@pytest.mark.parametrize("raw", ["ten", "1.5", "0x10"])
def test_env_int_refuses_junk_and_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured, match=rf"{NAME} must be an integer"):
        env_int(NAME, 7)


def test_env_list_splits_strips_and_drops_empty_items(monkeypatch):
    assert env_list(NAME) == []
    assert env_list(NAME, "a,b") == ["a", "b"]
    monkeypatch.setenv(NAME, " sidestage.example.com , ,localhost,")
    assert env_list(NAME, "ignored") == ["sidestage.example.com", "localhost"]
    monkeypatch.setenv(NAME, "")
    assert env_list(NAME, "ignored") == []  # set but empty is an empty list


def test_env_secret_reads_the_variable_or_the_default(monkeypatch):
    assert env_secret(NAME) == ""
    assert env_secret(NAME, "dflt") == "dflt"
    monkeypatch.setenv(NAME, "from-env")
    assert env_secret(NAME, "dflt") == "from-env"


def test_env_secret_prefers_the_file_and_strips_the_trailing_newline(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv(NAME, "from-env")
    monkeypatch.setenv(f"{NAME}_FILE", str(secret_file))
    assert env_secret(NAME) == "from-file"


def test_env_secret_with_an_unreadable_file_fails_loudly(monkeypatch, tmp_path):
    missing = tmp_path / "nope"
    monkeypatch.setenv(NAME, "from-env")  # never silently falls back
    monkeypatch.setenv(f"{NAME}_FILE", str(missing))
    with pytest.raises(ImproperlyConfigured, match=rf"{NAME}_FILE={missing} cannot be read"):
        env_secret(NAME)


def test_local_secret_key_creates_a_private_file_once_and_reuses_it(tmp_path):
    path = tmp_path / "nested" / "var" / "secret_key"
    first = local_secret_key(path)
    assert len(first) >= 50
    assert path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    mtime = path.stat().st_mtime_ns
    assert local_secret_key(path) == first
    assert path.stat().st_mtime_ns == mtime  # read, not rewritten


def test_local_secret_key_is_random_per_file(tmp_path):
    assert local_secret_key(tmp_path / "a") != local_secret_key(tmp_path / "b")


def test_local_secret_key_keeps_an_existing_key(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("an-operator-provided-key\n")
    assert local_secret_key(path) == "an-operator-provided-key"
