"""Real clients of a deployed edge, shared by the edge and stack tests.

- ``speak_into_page``: Debian's Chromium, driven by Playwright, with a fake
  microphone that plays a WAV, opens the page, clicks Start and waits until
  every segment is green (completed) and the text is within a WER bound.
- ``run_upstream_client``: Collabora's own ``TranscriptionClient``,
  unchanged, through the edge over wss:// (``WEBSOCKET_CLIENT_CA_BUNDLE``).
"""

import base64
import hashlib
import json
import os
import socket
import ssl
import subprocess
import time

import numpy as np

CHROMIUM = "/usr/bin/chromium"

# Makes the page's AudioContext ignore the 16 kHz it asks for, as browsers
# that cannot open one at 16 kHz do: the worklet must resample (48 kHz -> 16 kHz).
FORCE_48K = """
(() => {
  const Native = window.AudioContext;
  window.AudioContext = class extends Native {
    constructor(options) { super(Object.assign({}, options || {}, { sampleRate: 48000 })); }
  };
})();
"""


def spki_pin(port, host="127.0.0.1", server_name="localhost"):
    """base64 sha256 of the edge leaf certificate's public key."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # only reads the key to pin; the pin is what Chromium then checks
    with socket.create_connection((host, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    key = x509.load_der_x509_certificate(der).public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(key).digest()).decode()


def launch_chromium(pw, wav, https_port, host="127.0.0.1"):
    """Headless Debian Chromium with a fake microphone playing ``wav`` once,
    trusting the edge at ``host``:``https_port`` by its key's SPKI pin."""
    return pw.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              "--use-file-for-fake-audio-capture=%s%%noloop" % wav,
              "--ignore-certificate-errors-spki-list=" + spki_pin(
                  https_port, host=host, server_name="localhost" if host == "127.0.0.1" else host)])


def _page_transcript(page):
    """(completed segment texts, partial segment texts) as the page shows them."""
    return (page.locator(".segment.completed").all_text_contents(),
            page.locator(".segment:not(.completed)").all_text_contents())


def speak_into_page(page_url, https_port, wav, expected_text, max_wer, screenshot=None, force_48k=False,
                    timeout_s=60, host="127.0.0.1"):
    """Speak ``wav`` into the page at ``page_url``; return what was seen and sent.

    Waits until every segment on the page is completed (green, none grey
    left) and the completed text matches ``expected_text`` within
    ``max_wer``; fails with what the page showed otherwise.
    """
    from playwright.sync_api import sync_playwright
    from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.wer import word_error_rate
    sent_binary, sent_text, received = [], [], []
    with sync_playwright() as pw:
        browser = launch_chromium(pw, wav, https_port, host=host)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 720})
            if force_48k:
                page.add_init_script(FORCE_48K)

            # Playwright needs Python functions as listeners (not builtin methods).
            def on_sent(payload):
                (sent_binary if isinstance(payload, bytes) else sent_text).append(payload)

            def on_received(payload):
                received.append(payload)

            def on_websocket(ws):
                ws.on("framesent", on_sent)
                ws.on("framereceived", on_received)

            page.on("websocket", on_websocket)
            page.goto(page_url)
            page.wait_for_selector("#model option", state="attached")
            model = page.locator("#model").input_value()
            started = time.monotonic()
            page.click("#start")
            wer = None
            messages = []   # what #message said while waiting, in order, each once
            first_green = None
            while True:
                message = page.inner_text("#message") if page.is_visible("#message") else ""
                if message and (not messages or messages[-1] != message):
                    messages.append(message)
                completed, partial = _page_transcript(page)
                if completed and first_green is None:
                    first_green = time.monotonic() - started
                if completed and not partial:
                    wer = word_error_rate(expected_text, " ".join(completed))
                    if wer <= max_wer:
                        break
                if time.monotonic() - started > timeout_s:
                    if screenshot:
                        os.makedirs(os.path.dirname(screenshot), exist_ok=True)
                        page.screenshot(path=screenshot.replace(".png", "-failed.png"), full_page=True)
                    raise AssertionError(
                        "the sentence was not all green within WER %s after %d s: completed %r; partial (grey) %r; "
                        "WER of the completed text %s; state %r; message %r; format %r; frames sent %d" % (
                            max_wer, timeout_s, completed, partial, wer, page.inner_text("#state"),
                            page.inner_text("#message"), page.inner_text("#format"), len(sent_binary)))
                time.sleep(0.25)
            seconds = time.monotonic() - started
            seen = {
                "model": model,
                "seconds_to_words": seconds,
                "seconds_to_first_green": first_green,
                "wer": wer,
                "completed": completed,
                "color": page.eval_on_selector(".segment.completed", "(el) => getComputedStyle(el).color"),
                "format": page.inner_text("#format"),
                "state": page.inner_text("#state"),
                "messages": messages,
            }
            if screenshot:
                os.makedirs(os.path.dirname(screenshot), exist_ok=True)
                page.screenshot(path=screenshot, full_page=True)
            page.click("#stop")
            page.wait_for_function("() => document.querySelector('#state').textContent === 'Stopped'",
                                   timeout=15000)
        finally:
            browser.close()
    seen["options"] = json.loads(sent_text[0]) if sent_text else {}
    seen["frame_sizes"] = sorted({len(frame) for frame in sent_binary})
    seen["frames"] = len(sent_binary)
    seen["server_ready"] = any("SERVER_READY" in str(message) for message in received)
    # What the page sent as audio: Float32 frames at 16 kHz, in order.
    seen["samples"] = np.frombuffer(b"".join(sent_binary), dtype="<f4")
    return seen


def assert_sent_the_clip(seen, wav, late=0.25, spoiled=0.1):
    """Fail unless the page sent ``wav``'s own samples at 16 kHz: from at
    most ``late`` seconds after the microphone opened (measured 0.008 to
    0.09 s), and alike (``MIN_SAMPLE_CORRELATION``) in all but ``spoiled``
    of the clip's half seconds of speech (a busy machine's capture may spoil
    one). Returns the figures as a sentence."""
    from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.audio import load_wav
    from support import speech
    clip = load_wav(wav).samples
    offset, whole = speech.aligned_band_correlation(seen["samples"], clip)
    windows = [correlation for _second, correlation in speech.window_correlations(seen["samples"], clip, offset)]
    alike = sum(1 for correlation in windows if correlation >= speech.MIN_SAMPLE_CORRELATION)
    figures = ("the microphone's clip starts %.3f s into what the page sent; sample correlation %.4f, "
               "%d of %d half seconds of speech at least %s (lowest %.4f)" % (
                   offset, whole, alike, len(windows), speech.MIN_SAMPLE_CORRELATION, min(windows or [0.0])))
    assert windows, "the clip %s holds no speech to compare" % wav
    assert offset > -late, "the page began sending %.3f s after the microphone opened: %s" % (-offset, figures)
    assert alike >= (1 - spoiled) * len(windows), "the page sent other samples than the microphone's: " + figures
    return figures


# Upstream's own Python client, unchanged. It imports pyaudio (a microphone
# library) even to stream a file: a stub stands in for it (no portaudio
# here), and websocket-client comes from the test venv.
UPSTREAM_CLIENT = r"""
import sys, types
pyaudio = types.ModuleType("pyaudio")
pyaudio.paInt16 = 8
class PyAudio:
    def open(self, *args, **kwargs):
        raise OSError("no audio device in tests")
    def get_format_from_width(self, width):
        return 8
    def terminate(self):
        pass
pyaudio.PyAudio = PyAudio
sys.modules["pyaudio"] = pyaudio
from whisper_live.client import TranscriptionClient
port, wav, srt, model = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
# Upstream's defaults (use_vad on, same_output_threshold 10): the server's endpointing must serve them.
client = TranscriptionClient("localhost", int(port), lang="en", model=model, use_wss=True,
                             mute_audio_playback=True, output_transcription_path=srt, log_transcription=False)
client.client.disconnect_if_no_response_for = 4
client(wav)
"""


def run_upstream_client(venv, https_port, wav, model, ca_path, workdir, timeout=180):
    """Run TranscriptionClient from ``venv`` (which has whisper_live) against
    wss://localhost:https_port/; return (CompletedProcess, transcript text)."""
    import websocket
    overlay = os.path.join(str(workdir), "overlay")
    os.makedirs(overlay, exist_ok=True)
    link = os.path.join(overlay, "websocket")
    if not os.path.exists(link):
        os.symlink(os.path.dirname(websocket.__file__), link)
    script = os.path.join(str(workdir), "upstream_client.py")
    with open(script, "w") as handle:
        handle.write(UPSTREAM_CLIENT)
    srt = os.path.join(str(workdir), "out.srt")
    env = dict(os.environ, WEBSOCKET_CLIENT_CA_BUNDLE=ca_path, PYTHONPATH=overlay)
    result = subprocess.run([os.path.join(venv, "bin", "python"), script, str(https_port), wav, srt, model],
                            env=env, cwd=str(workdir), capture_output=True, text=True, timeout=timeout,
                            check=False)
    text = ""
    if os.path.exists(srt):
        with open(srt) as handle:
            text = handle.read().lower()
    return result, text
