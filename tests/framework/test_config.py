"""Config sources: mappings, objects, files, prefixed environment variables."""

from __future__ import annotations

import json
import types
from datetime import timedelta

import pytest

from sockweb.framework import App
from sockweb.framework.config import DEFAULT_CONFIG, Config, import_string, lifetime_seconds


def test_defaults() -> None:
    app = App("cfg")
    assert app.config["DEBUG"] is False and app.config["SECRET_KEY"] is None
    assert app.config["MAX_CONTENT_LENGTH"] is None
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=31)
    assert app.config["SESSION_COOKIE_NAME"] == "session"
    assert set(DEFAULT_CONFIG) <= set(app.config)
    assert "DEBUG" in repr(app.config)


def test_from_mapping_keeps_uppercase(tmp_path) -> None:
    config = Config(tmp_path)
    assert config.from_mapping({"A": 1, "b": 2}, C=3, d=4)
    assert config == {"A": 1, "C": 3}


def test_from_object_and_import_string(tmp_path) -> None:
    class Settings:
        DEBUG = True
        lower = "no"

    config = Config(tmp_path)
    config.from_object(Settings)
    assert config == {"DEBUG": True}
    config.from_object("json")  # a module: no uppercase names besides none
    config.from_object("sockweb.framework.config:DEFAULT_CONFIG")
    assert import_string("os.path:join") is import_string("os.path.join")
    assert isinstance(import_string("os.path"), types.ModuleType)
    with pytest.raises(ImportError):
        import_string("no_such_module_xyz")


def test_from_file_toml_and_json(tmp_path) -> None:
    (tmp_path / "c.toml").write_text('SECRET_KEY = "t"\nMAX_CONTENT_LENGTH = 10\nlower = 1\n')
    (tmp_path / "c.json").write_text(json.dumps({"DEBUG": True, "NESTED": {"a": 1}}))
    config = Config(tmp_path)
    assert config.from_file("c.toml")
    assert config.from_file(tmp_path / "c.json")
    assert config == {"SECRET_KEY": "t", "MAX_CONTENT_LENGTH": 10, "DEBUG": True, "NESTED": {"a": 1}}
    assert config.from_file("missing.toml", silent=True) is False
    with pytest.raises(OSError, match="Unable to load"):
        config.from_file("missing.toml")
    with pytest.raises(ValueError, match="suffix"):
        config.from_file("c.ini")
    (tmp_path / "c.ini").write_text("X=1")
    assert config.from_file("c.ini", load=lambda fp: dict(line.split("=") for line in fp.read().split()))
    assert config["X"] == "1"


def test_from_pyfile_and_envvar(tmp_path, monkeypatch) -> None:
    (tmp_path / "settings.py").write_text("import os\nSECRET_KEY = 'py'\nPORT = 1 + 1\n_private = 1\n")
    config = Config(tmp_path)
    assert config.from_pyfile("settings.py")
    assert config == {"SECRET_KEY": "py", "PORT": 2}
    assert config.from_pyfile("nope.py", silent=True) is False
    with pytest.raises(OSError):
        config.from_pyfile("nope.py")
    monkeypatch.setenv("MY_SETTINGS", str(tmp_path / "settings.py"))
    other = Config(tmp_path)
    assert other.from_envvar("MY_SETTINGS") and other["PORT"] == 2
    monkeypatch.delenv("MY_SETTINGS")
    assert other.from_envvar("MY_SETTINGS", silent=True) is False
    with pytest.raises(RuntimeError, match="MY_SETTINGS"):
        other.from_envvar("MY_SETTINGS")


def test_from_prefixed_env(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SOCKWEB_DEBUG", "true")
    monkeypatch.setenv("SOCKWEB_MAX_CONTENT_LENGTH", "1024")
    monkeypatch.setenv("SOCKWEB_SECRET_KEY", "plain string")
    monkeypatch.setenv("SOCKWEB_LIST", "[1, 2]")
    monkeypatch.setenv("SOCKWEB_DB__HOST", "db.local")
    monkeypatch.setenv("SOCKWEB_DB__PORT", "5432")
    monkeypatch.setenv("SOCKWEB_", "ignored")
    monkeypatch.setenv("OTHER_DEBUG", "false")
    config = Config(tmp_path, {"DB": {"USER": "u"}})
    assert config.from_prefixed_env()
    assert config["DEBUG"] is True and config["MAX_CONTENT_LENGTH"] == 1024
    assert config["SECRET_KEY"] == "plain string" and config["LIST"] == [1, 2]
    assert config["DB"] == {"USER": "u", "HOST": "db.local", "PORT": 5432}
    assert "" not in config
    custom = Config(tmp_path)
    custom.from_prefixed_env("APP", environ={"APP_X": "1", "APP_Y__Z": "2"}, loads=str.upper)
    assert custom == {"X": "1", "Y": {"Z": "2"}}


def test_from_prefixed_env_reads_flask_variables_under_sockweb_ones(tmp_path) -> None:
    config = Config(tmp_path)
    env = {"FLASK_A": "1", "FLASK_B": "flask", "SOCKWEB_B": "sockweb", "FLASK_C__D": "true"}
    config.from_prefixed_env(environ=env)
    assert config == {"A": 1, "B": "sockweb", "C": {"D": True}}
    only = Config(tmp_path)
    only.from_prefixed_env("SOCKWEB", environ=env)  # an explicit prefix is the only one
    assert only == {"B": "sockweb"}


def test_get_namespace(tmp_path) -> None:
    config = Config(tmp_path, {"IMAGE_STORE_TYPE": "fs", "IMAGE_STORE_PATH": "/x", "OTHER": 1})
    assert config.get_namespace("IMAGE_STORE_") == {"type": "fs", "path": "/x"}
    assert config.get_namespace("IMAGE_STORE_", lowercase=False, trim_namespace=False) == {
        "IMAGE_STORE_TYPE": "fs",
        "IMAGE_STORE_PATH": "/x",
    }


def test_lifetime_seconds() -> None:
    assert lifetime_seconds(timedelta(minutes=2)) == 120
    assert lifetime_seconds(30) == 30


def test_app_properties_write_config() -> None:
    app = App("props")
    app.secret_key = "k"
    app.testing = True
    assert app.config["SECRET_KEY"] == "k" and app.secret_key == "k" and app.config["TESTING"] is True
