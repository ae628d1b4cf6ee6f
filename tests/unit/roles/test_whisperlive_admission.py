"""The launcher's admission of new sockets (plain Python: no WhisperLive, no torch).

The first message's checks, the client address behind a trusted proxy and
the bound on sockets waiting for their options, plus a property-based fuzz
(hypothesis) of the same code: whatever a client sends, the parser returns
options or BadFirstMessage naming a field, never anything else, and the gate
never leaks a slot. The real server's answers (ERROR frames, close codes,
threads) are tested in tests/integration/roles/test_whisperlive_launcher.py.
"""

import json
import os
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unit import launcher as launcher_file

# Bounded for `make test`: a few seconds of fuzzing per property.
FUZZ = settings(max_examples=int(os.environ.get("RASR_FUZZ_EXAMPLES", "400")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


L = launcher_file.load()
FIELDS = {"options", "uid", "task", "language"} | set(L.OPTION_RULES)


def refused(raw):
    with pytest.raises(L.BadFirstMessage) as err:
        L.parse_first_message(raw)
    return err.value


def test_a_good_first_message_gets_defaults():
    options = L.parse_first_message(json.dumps({"uid": "u1", "model": "tiny.en", "use_vad": True}))
    assert options["task"] == "transcribe" and options["language"] is None and options["uid"] == "u1"


@pytest.mark.parametrize("raw, field, code", [
    (b"\x00\x01\x02\x03", "options", 1003),
    ("hello", "options", 1008),
    ("[1, 2]", "options", 1008),
    ("{}", "uid", 1008),
    (json.dumps({"uid": ""}), "uid", 1008),
    (json.dumps({"uid": "x" * 129}), "uid", 1008),
    (json.dumps({"uid": "u", "task": "fly"}), "task", 1008),
    (json.dumps({"uid": "u", "language": 7}), "language", 1008),
    (json.dumps({"uid": "u", "use_vad": "yes"}), "use_vad", 1008),
    (json.dumps({"uid": "u", "audio_format": "mp3"}), "audio_format", 1008),
    (json.dumps({"uid": "u", "same_output_threshold": 0}), "same_output_threshold", 1008),
    (json.dumps({"uid": "u", "no_speech_thresh": 2}), "no_speech_thresh", 1008),
])
def test_bad_first_messages_name_the_field(raw, field, code):
    error = refused(raw)
    assert error.field == field and error.close_code == code
    assert error.message.startswith(field + ": ")


def test_the_message_says_what_was_wrong():
    assert refused(json.dumps({"uid": "u", "task": "fly"})).message == \
        'task: "fly" is not one of transcribe, translate'
    assert "not binary audio" in refused(b"\x00").message


def test_language_must_suit_the_served_model():
    L.check_language(None, "tiny.en", frozenset(), multilingual=False)
    L.check_language("en", "tiny.en", frozenset(), multilingual=False)
    with pytest.raises(L.BadFirstMessage) as err:
        L.check_language("xx", "tiny.en", frozenset(), multilingual=False)
    assert err.value.field == "language" and "English-only" in err.value.message
    L.check_language("de", "small", frozenset({"de", "en"}), multilingual=True)
    with pytest.raises(L.BadFirstMessage, match='"xx" is not a language small knows'):
        L.check_language("xx", "small", frozenset({"de", "en"}), multilingual=True)


def test_forwarded_for_counts_only_from_a_trusted_proxy():
    trusted = L.proxy_networks(["127.0.0.1"])
    assert L.client_address("127.0.0.1", "198.51.100.7", trusted) == "198.51.100.7"
    # Caddy appends the client it saw: the last entry is the one the edge vouches for.
    assert L.client_address("127.0.0.1", "10.9.9.9, 198.51.100.7", trusted) == "198.51.100.7"
    assert L.client_address("192.0.2.50", "198.51.100.7", trusted) == "192.0.2.50"
    assert L.client_address("127.0.0.1", "not-an-ip", trusted) == "127.0.0.1"
    assert L.client_address("127.0.0.1", None, trusted) == "127.0.0.1"
    assert L.client_address("not-an-address", "198.51.100.7", trusted) == "not-an-address"


def test_a_trusted_network_covers_every_edge_in_it():
    """On AWS the edge's private address is not known before it runs: its VPC's ranges are trusted."""
    private = L.proxy_networks(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8"])
    assert L.client_address("172.31.7.9", "203.0.113.5", private) == "203.0.113.5"
    assert L.client_address("fd12::5", "203.0.113.5", private) == "203.0.113.5"
    assert L.client_address("198.51.100.1", "203.0.113.5", private) == "198.51.100.1"
    assert L.client_address("172.32.0.1", "203.0.113.5", private) == "172.32.0.1"


def test_pending_gate_bounds_per_client_and_in_total():
    gate = L.PendingGate(per_client=2, total=3)
    assert gate.enter("a") is None and gate.enter("a") is None
    assert "a has 2 sockets waiting" in gate.enter("a")
    assert gate.enter("b") is None
    assert "3 sockets waiting" in gate.enter("c")
    gate.leave("a")
    assert gate.enter("c") is None
    for client in ("a", "b", "c"):
        gate.leave(client)
    assert gate.waiting == 0 and gate.by_client == {}


def test_config_checks_the_admission_settings(tmp_path):
    base = {"host": "127.0.0.1", "models": ["m=%s" % launcher_file.model_dir(tmp_path)]}
    conf = L.validate_config(base)
    assert (conf["options_timeout_s"], conf["max_pending_per_client"], conf["max_pending"]) == (10, 4, 64)
    with pytest.raises(L.ConfigError, match=r"trusted_proxies: 'edge' is not an IP address or network \(CIDR\)"):
        L.validate_config(dict(base, trusted_proxies=["edge"]))
    with pytest.raises(L.ConfigError, match="trusted_proxies: '10.0.0.0/33' is not"):
        L.validate_config(dict(base, trusted_proxies=["10.0.0.0/33"]))
    with pytest.raises(L.ConfigError, match="trusted_proxies: 7 is not"):
        L.validate_config(dict(base, trusted_proxies=[7]))
    assert L.validate_config(dict(base, trusted_proxies=["127.0.0.1", "10.0.0.0/8"]))["trusted_proxies"] == [
        "127.0.0.1", "10.0.0.0/8"]
    with pytest.raises(L.ConfigError, match=r"options_timeout_s: 0 is not an integer in \[1, 300\]"):
        L.validate_config(dict(base, options_timeout_s=0))


# -- fuzzing -------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12)
KNOWN_KEYS = st.sampled_from(["uid", "task", "language", "model"] + sorted(L.OPTION_RULES))
FIRST_MESSAGES = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    JSON_VALUES.map(json.dumps),
    st.dictionaries(KNOWN_KEYS, JSON_VALUES, max_size=8).map(json.dumps),
)


@FUZZ
@given(FIRST_MESSAGES)
def test_fuzz_the_first_message_is_options_or_a_named_refusal(raw):
    try:
        options = L.parse_first_message(raw)
    except L.BadFirstMessage as exc:
        assert exc.field in FIELDS and exc.message.startswith(exc.field + ": ")
        assert exc.close_code in (1003, 1008)
        # what the server sends must serialise, and the close reason fits a control frame
        assert len(json.dumps({"status": "ERROR", "field": exc.field, "message": exc.message})) < 10000
        assert len(exc.message[:120].encode("utf-8")) <= 480
        return
    assert isinstance(options, dict) and isinstance(options["uid"], str) and options["uid"].strip()
    assert options["task"] in L.TASKS
    assert options["language"] is None or isinstance(options["language"], str)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["enter", "leave"]), st.sampled_from(["a", "b", "c", "d"])),
                max_size=60))
def test_fuzz_the_gate_never_leaks_nor_overfills(steps):
    gate = L.PendingGate(per_client=2, total=5)
    held = []
    for action, client in steps:
        if action == "enter":
            if gate.enter(client) is None:
                held.append(client)
        elif client in held:
            held.remove(client)
            gate.leave(client)
        assert gate.waiting == len(held) <= 5
        assert all(count <= 2 for count in gate.by_client.values())
    for client in held:
        gate.leave(client)
    assert gate.waiting == 0 and gate.by_client == {}


def test_the_gate_under_threads_ends_empty():
    gate = L.PendingGate(per_client=3, total=8)
    admitted = []

    def worker(client):
        for _round in range(500):
            if gate.enter(client) is None:
                admitted.append(client)
                gate.leave(client)

    threads = [threading.Thread(target=worker, args=("c%d" % (n % 3),)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert admitted and gate.waiting == 0 and gate.by_client == {}
