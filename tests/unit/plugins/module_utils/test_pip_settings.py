import subprocess

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import pip_settings

SAMPLE = """global.cert='/etc/ssl/certs/ca.crt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/more/simple/'
global.find-links='/opt/global-wheels'
install.find-links='/opt/install-wheels'
:env:.find-links='/opt/wheels'
:env:.default-timeout='180'
"""


def test_environment_wins_over_files():
    config = pip_settings.parse_config_list(SAMPLE)
    assert config["find-links"] == "/opt/wheels"
    assert config["cert"] == "/etc/ssl/certs/ca.crt"


def test_install_section_wins_over_global_without_env():
    config = pip_settings.parse_config_list(
        "global.find-links='/a'\ninstall.find-links='/b'\n"
    )
    assert config["find-links"] == "/b"


def test_settings_list_local_paths_and_index_parents():
    settings = pip_settings.settings_from_config(pip_settings.parse_config_list(SAMPLE))
    assert settings["extra_index_urls"] == ["file:///opt/pypi/simple", "file:///opt/more/simple/"]
    assert settings["find_links"] == ["/opt/wheels"]
    assert settings["index_url"] == ""
    assert settings["local_paths"] == ["/etc/ssl/certs/ca.crt", "/opt/wheels", "/opt/pypi", "/opt/more"]


def test_remote_urls_are_not_mounted():
    settings = pip_settings.settings_from_config(
        {"index-url": "https://mirror.example/simple", "find-links": "https://example/wheels"}
    )
    assert settings["local_paths"] == []
    assert settings["index_url"] == "https://mirror.example/simple"


def test_empty_config():
    settings = pip_settings.settings_from_config(pip_settings.parse_config_list(""))
    assert settings == {
        "cert": "",
        "find_links": [],
        "index_url": "",
        "extra_index_urls": [],
        "local_paths": [],
    }


def test_failing_pip_raises_named_error():
    def runner(command, **kwargs):
        return subprocess.CompletedProcess(command, 2, "", "no pip here")

    with pytest.raises(pip_settings.PipSettingsError, match="no pip here"):
        pip_settings.read_pip_settings("/usr/bin/python3", runner=runner)


def test_reads_real_pip():
    settings = pip_settings.read_pip_settings()
    assert set(settings) == {"cert", "find_links", "index_url", "extra_index_urls", "local_paths"}


def test_host_prefix_moves_local_locations_only():
    config = pip_settings.parse_config_list(SAMPLE + "global.index-url='https://mirror.example/simple'\n")
    settings = pip_settings.settings_from_config(config, host_prefix="/opt/control-node/")
    assert settings["cert"] == "/opt/control-node/etc/ssl/certs/ca.crt"
    assert settings["find_links"] == ["/opt/control-node/opt/wheels"]
    assert settings["extra_index_urls"] == [
        "file:///opt/control-node/opt/pypi/simple",
        "file:///opt/control-node/opt/more/simple/",
    ]
    assert settings["index_url"] == "https://mirror.example/simple"
    # Mount sources stay the control node's paths.
    assert settings["local_paths"] == ["/etc/ssl/certs/ca.crt", "/opt/wheels", "/opt/pypi", "/opt/more"]
