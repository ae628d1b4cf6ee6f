"""The launcher's configuration checks and model registry (no WhisperLive, no torch)."""

import json

import pytest

from unit import launcher as launcher_file


@pytest.fixture(scope="module")
def launcher():
    return launcher_file.load()


@pytest.fixture
def model_dir(tmp_path):
    return launcher_file.model_dir(tmp_path)


def test_minimal_config_gets_defaults(launcher, model_dir):
    conf = launcher.validate_config({"host": "127.0.0.1", "models": ["tiny.en=%s" % model_dir]})
    assert conf["port"] == 9090
    assert conf["max_clients"] == 4
    assert conf["models"] == [{"name": "tiny.en", "path": model_dir}]


@pytest.mark.parametrize("change, message", [
    ({"host": None}, "bind address is required"),
    ({"host": "localhost"}, "not an IP address"),
    ({"port": 0}, "port: 0"),
    ({"port": "9090"}, "port: '9090'"),
    ({"max_clients": 0}, "max_clients"),
    ({"max_clients": True}, "max_clients"),
    ({"metrics_port": 9090}, "metrics_port: must differ"),
    ({"device": "tpu"}, "device"),
    ({"compute_type": "int4"}, "compute_type"),
    ({"models": []}, "at least one"),
    ({"models": ["tiny.en"]}, "expected NAME=PATH"),
    ({"models": ["a=/nonexistent"]}, "lacks model.bin, config.json"),
    ({"colour": "blue"}, "unknown setting(s): colour"),
    ({"api_key_file": "/nonexistent/key"}, "api_key_file"),
])
def test_bad_settings_are_named(launcher, model_dir, change, message):
    config = {"host": "127.0.0.1", "models": ["tiny.en=%s" % model_dir]}
    config.update(change)
    with pytest.raises(launcher.ConfigError) as err:
        launcher.validate_config(config)
    assert message in str(err.value)


def test_duplicate_model_names_refused(launcher, model_dir):
    with pytest.raises(launcher.ConfigError, match="duplicate names"):
        launcher.validate_config({"host": "::1", "models": ["a=%s" % model_dir, "a=%s" % model_dir]})


def test_config_file_and_cli_merge(launcher, model_dir, tmp_path):
    config = tmp_path / "wl.json"
    config.write_text(json.dumps({"host": "127.0.0.1", "port": 19090,
                                  "models": [{"name": "tiny.en", "path": model_dir}]}))
    args, merged = launcher.load_config(["--config", str(config), "--port", "19191", "--max-clients", "2"])
    conf = launcher.validate_config(merged)
    assert (conf["port"], conf["max_clients"], conf["host"]) == (19191, 2, "127.0.0.1")
    assert not args.check_config


def test_check_config_exit_codes(launcher, model_dir, tmp_path, capsys):
    key = tmp_path / "key"
    key.write_text("secret\n")
    assert launcher.main(["--host", "127.0.0.1", "--model", "tiny.en=%s" % model_dir,
                          "--api-key-file", str(key), "--check-config"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["api_key_file"] == "(set)" and "secret" not in json.dumps(shown)
    assert launcher.main(["--host", "0.0.0.0", "--model", "tiny.en=/nope", "--check-config"]) == 2
    assert "lacks model.bin" in capsys.readouterr().err


def test_registry_resolves_only_served_models(launcher):
    registry = launcher.ModelRegistry([{"name": "small.en", "path": "/m/small.en"},
                                       {"name": "tiny.en", "path": "/m/tiny.en"}])
    assert registry.default == "small.en"
    assert registry.resolve(None) == "small.en"
    assert registry.resolve("") == "small.en"
    assert registry.resolve("tiny.en") == "tiny.en"
    assert registry.resolve("/m/tiny.en/") == "tiny.en"
    with pytest.raises(launcher.ModelNotServed) as err:
        registry.resolve("large-v3")
    assert '"large-v3" is not served here' in str(err.value)
    assert "small.en, tiny.en (default small.en)" in str(err.value)


def test_help_documents_every_setting(launcher):
    text = launcher.build_parser().format_help()
    for key in launcher.DEFAULTS:
        key = {"models": "model", "trusted_proxies": "trusted_proxy"}.get(key, key)
        assert "--" + key.replace("_", "-") in text
