"""The deployed stack, used and broken from outside, through the edge.

Figures print with `-s`/`-v` (the Molecule verify step shows them); the
assertions are about behaviour, and the time bounds only keep a broken
stack from hanging the suite. A real-time transcription through the edge
with its CA is playbook 315's, run by the scenario's converge and
idempotence steps: not repeated here.
"""

import json
import os
import ssl
import threading
import time

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import audio, errors
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.wer import word_error_rate
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.whisperlive_client import (
    check_transcription,
    connect,
)

from stack_helpers import CADDY_UNIT, REPO, WHISPERLIVE_UNIT, https_get, wait_until
from support.speech import MAX_WER, SENTENCE


def ssl_context(stack):
    return ssl.create_default_context(cafile=stack.ca_path)


def http_status(stack, url):
    return https_get(url, stack.ca_path, timeout=10)[0]


def transcribe(stack, wav, **options):
    options.setdefault("ca_path", stack.ca_path)
    options.setdefault("timeout", 120)
    return check_transcription(stack.ws_url, audio.load_wav(wav), expected_text=SENTENCE,
                               max_wer=MAX_WER, **options)


def in_thread(target):
    """Run ``target`` in a thread; return a dict that gets 'result' or 'error'."""
    outcome = {}

    def run():
        try:
            outcome["result"] = target()
        except Exception as exc:  # the test inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    outcome["thread"] = thread
    return outcome


def wait_healthy(stack, timeout=90):
    return wait_until(lambda: http_status(stack, stack.upstream_health_url) == 200, timeout)


def test_wss_without_the_ca_fails_verification(stack, speech_wav):
    with pytest.raises(errors.TlsError) as caught:
        check_transcription(stack.ws_url, audio.load_wav(speech_wav), timeout=20)
    assert "certificate" in str(caught.value).lower()


def test_health_endpoints_follow_whisperlive(stack, speech_wav):
    assert http_status(stack, stack.healthz_url) == 200
    assert wait_healthy(stack), "upstream health never reported 200 with WhisperLive up"
    stack.host_exec(stack.gpu, "systemctl", "stop", WHISPERLIVE_UNIT)
    try:
        down = wait_until(lambda: http_status(stack, stack.upstream_health_url) == 503, 30)
        assert down, "upstream health stayed 200 with WhisperLive stopped"
        assert http_status(stack, stack.healthz_url) == 200, "the edge itself must stay up"
        with pytest.raises(errors.HttpStatusError) as caught:
            transcribe(stack, speech_wav, timeout=30)
        assert caught.value.status in (502, 503)
    finally:
        stack.host_exec(stack.gpu, "systemctl", "start", WHISPERLIVE_UNIT)
    assert wait_healthy(stack), "upstream health did not come back to 200"
    assert transcribe(stack, speech_wav, pace=0)["wer"] <= MAX_WER


def test_kill_9_during_a_stream_fails_clearly_and_the_service_comes_back(stack, long_speech_wav, speech_wav):
    # The recovery mechanism: systemd restarts at once, the edge checks its upstream every second
    # (how soon is bench/recovery.py's figure, not this test's).
    assert stack.unit_property(stack.gpu, WHISPERLIVE_UNIT, "Restart") == "always"
    assert stack.unit_property(stack.gpu, WHISPERLIVE_UNIT, "RestartUSec") == "200ms"
    caddyfile = stack.host_exec(stack.edge, "cat", "/etc/caddy/Caddyfile").stdout
    assert "health_interval 500ms" in caddyfile and "health_passes 1" in caddyfile
    restarts_before = int(stack.unit_property(stack.gpu, WHISPERLIVE_UNIT, "NRestarts"))
    streaming = in_thread(lambda: transcribe(stack, long_speech_wav, pace=1.0))
    time.sleep(4)
    killed_at = time.monotonic()
    stack.host_exec(stack.gpu, "systemctl", "kill", "--signal=KILL", WHISPERLIVE_UNIT)
    streaming["thread"].join(120)
    assert not streaming["thread"].is_alive(), "the stream hung after the server died"
    error = streaming.get("error")
    assert isinstance(error, (errors.StreamClosed, errors.ServerDisconnect, errors.HttpStatusError)), \
        "expected a clear stream failure, got %r" % (error or streaming.get("result"))
    print("stream failure: %s" % error)
    assert wait_healthy(stack, 90), "upstream health did not return after kill -9"
    healthy_after = time.monotonic() - killed_at
    result = transcribe(stack, speech_wav, pace=0)
    recovered_after = time.monotonic() - killed_at
    restarts_after = int(stack.unit_property(stack.gpu, WHISPERLIVE_UNIT, "NRestarts"))
    print("kill -9: upstream healthy again after %.1f s, a new stream done after %.1f s, wer %s"
          % (healthy_after, recovered_after, result["wer"]))
    assert restarts_after == restarts_before + 1, "systemd did not restart the service"
    assert result["wer"] <= MAX_WER


def test_more_streams_than_max_clients_get_wait_through_the_edge(stack, speech_wav):
    count = stack.max_clients + 2
    barrier = threading.Barrier(count)
    restarts_before = stack.unit_property(stack.gpu, WHISPERLIVE_UNIT, "NRestarts")

    def one():
        barrier.wait(30)
        return transcribe(stack, speech_wav, wait_for_slot=0, timeout=180)

    runs = [in_thread(one) for _stream in range(count)]
    for run in runs:
        run["thread"].join(240)
    admitted = [run["result"] for run in runs if "result" in run]
    busy = [run["error"] for run in runs if isinstance(run.get("error"), errors.ServerBusy)]
    other = [run.get("error") for run in runs if "result" not in run and not isinstance(run.get("error"), errors.ServerBusy)]
    print("%d streams at once, max_clients %d: %d transcribed (wer %s), %d got WAIT, other: %r"
          % (count, stack.max_clients, len(admitted), [r["wer"] for r in admitted], len(busy), other))
    assert not other, "streams failed otherwise than with WAIT: %r" % other
    assert len(admitted) == stack.max_clients
    assert len(busy) == count - stack.max_clients
    assert "WAIT" in str(busy[0]) or "full" in str(busy[0])
    assert stack.unit_property(stack.gpu, WHISPERLIVE_UNIT, "NRestarts") == restarts_before


def handshake(stack, context):
    """Open a socket through the edge, wait for SERVER_READY, close."""
    with connect(stack.ws_url, ssl=context, open_timeout=15, close_timeout=5) as ws:
        ws.send(json.dumps({"uid": "cycle", "language": "en", "task": "transcribe",
                            "model": "tiny.en", "use_vad": True}))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=15))
            if message.get("message") == "SERVER_READY":
                return
            if message.get("status") == "WAIT":
                time.sleep(0.5)
                return handshake(stack, context)
        raise AssertionError("no SERVER_READY")


def test_connect_disconnect_cycles_leave_memory_and_threads_flat(stack):
    context = ssl_context(stack)
    handshake(stack, context)  # warm up
    time.sleep(2)
    rss_before, threads_before = stack.process_figures(stack.gpu, WHISPERLIVE_UNIT)
    started = time.monotonic()
    for _cycle in range(200):
        handshake(stack, context)
    elapsed = time.monotonic() - started
    settled = wait_until(
        lambda: stack.process_figures(stack.gpu, WHISPERLIVE_UNIT)[1] <= threads_before + 2, 30)
    rss_after, threads_after = stack.process_figures(stack.gpu, WHISPERLIVE_UNIT)
    print("200 cycles in %.1f s: RSS %d -> %d kB, threads %d -> %d"
          % (elapsed, rss_before, rss_after, threads_before, threads_after))
    assert settled, "threads did not return to their level: %d -> %d" % (threads_before, threads_after)
    assert rss_after - rss_before <= 5 * 1024, "RSS grew by %d kB" % (rss_after - rss_before)


def test_caddy_reload_during_a_stream_keeps_it(stack, speech_wav):
    pid_before = stack.unit_property(stack.edge, CADDY_UNIT, "MainPID")
    streaming = in_thread(lambda: transcribe(stack, speech_wav, pace=1.0))
    time.sleep(3)   # mid-sentence: about 7 s of speech, paced in real time
    stack.host_exec(stack.edge, "systemctl", "reload", CADDY_UNIT)
    streaming["thread"].join(180)
    assert "error" not in streaming, "the stream broke on reload: %r" % streaming.get("error")
    print("stream across a reload: wer %s" % streaming["result"]["wer"])
    assert streaming["result"]["wer"] <= MAX_WER
    assert stack.unit_property(stack.edge, CADDY_UNIT, "MainPID") == pid_before, "reload restarted Caddy"


def test_tags_clients_redeploys_only_the_ui(stack):
    web_root = os.environ.get("RASR_WEB_ROOT", "/srv/realtime-asr/www")
    page = web_root + "/index.html"
    stack.host_exec(stack.edge, "sh", "-c", "echo '<!-- stale -->' >> %s" % page)
    pid_before = stack.unit_property(stack.edge, CADDY_UNIT, "MainPID")
    started_before = stack.unit_property(stack.edge, CADDY_UNIT, "ExecMainStartTimestampMonotonic")
    started = time.monotonic()
    run = stack.ansible_playbook("site.yml", "--tags", "clients", "--diff")
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    changed = [line for line in run.stdout.splitlines() if line.startswith("changed:")]
    print("--tags clients: %.1f s, changed lines: %s" % (elapsed, changed))
    assert changed, "the stale page was not replaced"
    recap = [line for line in run.stdout.splitlines() if stack.gpu in line and "changed=" in line]
    assert recap and "changed=0" in recap[-1], "--tags clients changed the GPU host: %s" % recap
    assert "stale" not in stack.host_exec(stack.edge, "cat", page).stdout
    assert "RUNNING HANDLER" not in run.stdout, "--tags clients ran a handler"
    assert stack.unit_property(stack.edge, CADDY_UNIT, "MainPID") == pid_before
    assert stack.unit_property(stack.edge, CADDY_UNIT, "ExecMainStartTimestampMonotonic") == started_before


def test_check_mode_reports_drift_and_nothing_else(stack):
    """`site.yml --check` is drift detection. One whole check run over the converged stack
    with one package gone from the WhisperLive venv reports that install (and the restart it
    would notify) and nothing else on any host, and check mode does not put the package back.

    One run proves both halves: every other task of site.yml ran in check mode on a
    converged host and reported no change."""
    pip = ["/opt/whisperlive/venv/bin/python", "-m", "pip"]
    stack.host_exec(stack.gpu, *(pip + ["uninstall", "-y", "websockets"]))
    try:
        started = time.monotonic()
        run = stack.ansible_playbook("site.yml", "--check", "--diff", json_output=True)
        assert run.rc == 0, (run.messages(), run.stderr[-2000:])
        changed = {host: stats["changed"] for host, stats in run.doc["stats"].items()}
        print("site.yml --check with one package drifted: %.1f s, changed %s, tasks %s" % (
            time.monotonic() - started, changed, run.changed_tasks()))
        assert set(changed) >= {stack.gpu, stack.edge}, changed
        drift = [(host, name) for host, name in run.changed_tasks()
                 if host == stack.gpu and name.endswith("Install the server's dependencies into the venv")]
        assert drift, "the missing package was not reported: %s" % run.changed_tasks()
        others = [(host, name) for host, name in run.changed_tasks()
                  if (host, name) not in drift and not (host == stack.gpu and name.endswith("Restart whisperlive"))]
        assert not others, "check mode reported changes on a converged stack: %s" % others
        assert stack.host_exec(stack.gpu, *(pip + ["show", "websockets"]), check=False).returncode != 0, \
            "check mode installed the package"
    finally:
        # Put it back the way an operator would, and the service restarts on it (handler).
        run = stack.ansible_playbook("site.yml", "--tags", "whisperlive", "--limit", stack.gpu)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert stack.host_exec(stack.gpu, *(pip + ["show", "websockets"]), check=False).returncode == 0
    assert wait_healthy(stack)


@pytest.mark.parametrize("extra, named", [
    ("whisperlive_port=notaport", "whisperlive_port"),
    ("edge_caddy_https_port=[443]", "edge_caddy_https_port"),
    ("realtime_asr_target=gcp", "realtime_asr_target"),
    ("whisperlive_modle=tiny.en", "whisperlive_modle"),
])
def test_bad_variables_fail_before_any_change_naming_the_variable(stack, extra, named):
    run = stack.ansible_playbook("site.yml", "-e", extra, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert named in output
    recap = [line for line in output.splitlines() if "changed=" in line]
    assert all("changed=0" in line for line in recap), recap


def test_an_unreachable_host_is_named(stack):
    run = stack.ansible_playbook("playbooks/310_whisperlive.yml", "-e", "ansible_host=rasr-no-such-host",
                                 timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert stack.gpu in output and ("UNREACHABLE" in output or "unreachable" in output)


def test_a_real_browser_sees_the_spoken_words_turn_green(stack, tmp_path):
    from support import clients, speech
    from urllib.parse import urlsplit
    wav = speech.make_speech_wav(str(tmp_path / "mic.wav"), rate=16000, encoding="int16", trailing_silence=4.0)
    port = urlsplit(stack.edge_url).port or 443
    # Every segment green, and the green text within the WER bound.
    seen = clients.speak_into_page(stack.edge_url, port, wav, speech.SENTENCE, speech.BROWSER_MAX_WER,
                                   screenshot=os.path.join(REPO, "artifacts", "browser", "stack-page.png"))
    print("browser: %.1f s from Start to all green, wer %.2f, %d frames of %s bytes: %s"
          % (seen["seconds_to_words"], seen["wer"], seen["frames"], seen["frame_sizes"], " ".join(seen["completed"])))
    assert seen["color"] == "rgb(21, 128, 61)"   # green completed segments
    assert seen["frame_sizes"] == [6400]          # 100 ms of Float32 at 16 kHz
    assert seen["frames"] >= 50                   # at least the 5 s before all was green
    assert seen["server_ready"]
    assert "same_output_threshold" not in seen["options"] and seen["options"]["model"] == seen["model"]
    assert "resampled" not in seen["format"], seen["format"]   # the 16 kHz context, no resampler
    print("browser: %s" % clients.assert_sent_the_clip(seen, wav))


def test_upstream_transcription_client_works_through_the_edge(stack, speech_wav, tmp_path):
    from support import clients, whisperlive
    from urllib.parse import urlsplit
    venv = whisperlive.ensure_venv()
    port = urlsplit(stack.edge_url).port or 443
    result, text = clients.run_upstream_client(venv, port, speech_wav, "tiny.en", stack.ca_path, tmp_path)
    print("TranscriptionClient through the edge: %s" % text.strip().replace("\n", " | ")[:300])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    # The SRT file's text lines (not its numbers and times), within the WER bound.
    lines = [line for line in text.splitlines() if line.strip() and not line.strip().isdigit() and "-->" not in line]
    wer = word_error_rate(SENTENCE, " ".join(lines))
    print("TranscriptionClient through the edge: wer %.2f" % wer)
    assert wer <= MAX_WER, text
