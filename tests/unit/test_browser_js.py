"""The browser client's JavaScript, run in node: the worklet's resampler and
framing, and the transcript model of app.js."""

import json
import os
import shutil
import subprocess

import pytest

SITE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "site")
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

# Loads pcm-worklet.js with the AudioWorkletGlobalScope names it uses, feeds
# it a tone in 128-sample render quanta, and reports frames and levels.
WORKLET_HARNESS = r"""
const fs = require('fs');
const [,, file, rate, freq, seconds] = process.argv;
let Processor = null;
const posted = [];
const scope = {
  sampleRate: Number(rate),
  AudioWorkletProcessor: class { constructor() { this.port = { postMessage: (m) => posted.push(m) }; } },
  registerProcessor: (name, cls) => { Processor = cls; },
};
new Function(...Object.keys(scope), fs.readFileSync(file, 'utf8'))(...Object.values(scope));
const proc = new Processor({ processorOptions: { targetRate: 16000, frameSamples: 1600 } });
const total = Math.round(Number(rate) * Number(seconds));
for (let off = 0; off < total; off += 128) {
  const block = new Float32Array(128);
  for (let i = 0; i < 128; i += 1) block[i] = 0.5 * Math.sin(2 * Math.PI * Number(freq) * (off + i) / Number(rate));
  proc.process([[block]]);
}
const frames = posted.filter((m) => m.type === 'frame');
const pcm = [];
frames.forEach((f) => pcm.push(...f.pcm));
// Amplitude of the tone at the output rate (skip the filter's start-up).
const seg = pcm.slice(1600);
let rms = 0; seg.forEach((v) => { rms += v * v; }); rms = Math.sqrt(rms / seg.length);
console.log(JSON.stringify({ format: posted[0], frames: frames.length, sizes: [...new Set(frames.map((f) => f.pcm.length))],
                             samples: pcm.length, rms, peak: Math.max(...seg.map(Math.abs)) }));
"""

APP_HARNESS = r"""
const app = require(process.argv[2]);
const t = app.createTranscript();
app.applySegments(t, 1, [{start: '0.000', end: '1.2', text: ' Hello', completed: true},
                         {start: '1.200', end: '2.0', text: ' wor', completed: false}]);
const partial = t.partial && t.partial.text;
app.applySegments(t, 1, [{start: '0.000', end: '1.2', text: ' Hello', completed: true},
                         {start: '1.200', end: '2.3', text: ' world.', completed: true}]);
app.applySegments(t, 2, [{start: '0.000', end: '1.0', text: 'Again', completed: true},
                         {start: '1.000', end: '1.5', text: 'and', completed: false}]);
const delays = [0, 1, 2, 3, 10].map((n) => app.backoffDelay(n));
console.log(JSON.stringify({
  partial, text: app.transcriptText(t), lastPartial: t.partial.text, delays,
  derived: app.socketUrl({}, {protocol: 'https:', host: 'edge.example:8443', search: '?token=a b'}),
  fixed: app.socketUrl({socket_url: 'wss://x/ws'}, {protocol: 'https:', host: 'y', search: ''}),
  plain: app.socketUrl({socket_path: '/ws'}, {protocol: 'http:', host: 'h', search: ''}),
}));
"""


def run_worklet(tmp_path, rate, freq, seconds=2.0):
    harness = tmp_path / "harness.js"
    harness.write_text(WORKLET_HARNESS)
    out = subprocess.run([NODE, str(harness), os.path.join(SITE, "pcm-worklet.js"), str(rate), str(freq), str(seconds)],
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def test_16k_context_passes_frames_through(tmp_path):
    result = run_worklet(tmp_path, 16000, 440)
    assert result["format"]["resampling"] is False
    assert result["sizes"] == [1600]          # 100 ms frames
    assert result["frames"] == 20             # 2 s of audio
    assert abs(result["rms"] - 0.5 / 2 ** 0.5) < 0.01


@pytest.mark.parametrize("rate", [48000, 44100])
def test_resampler_keeps_speech_band_and_count(tmp_path, rate):
    result = run_worklet(tmp_path, rate, 1000)
    assert result["format"]["resampling"] is True
    assert result["sizes"] == [1600]
    # 2 s in -> about 32000 samples out (minus the filter delay), whole frames.
    assert 30400 <= result["samples"] <= 32000
    assert abs(result["rms"] - 0.5 / 2 ** 0.5) < 0.02


@pytest.mark.parametrize("rate, freq", [(48000, 12000), (48000, 9000), (44100, 14000)])
def test_resampler_filters_what_would_alias(tmp_path, rate, freq):
    # Dropping samples would fold these tones into the 0-8 kHz band at full level.
    result = run_worklet(tmp_path, rate, freq)
    assert result["peak"] < 0.5 * 0.01   # at least 40 dB down


def test_transcript_model_and_urls(tmp_path):
    harness = tmp_path / "app.js"
    harness.write_text(APP_HARNESS)
    out = subprocess.run([NODE, str(harness), os.path.join(SITE, "app.js")],
                         capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout)
    assert result["partial"] == "wor"
    assert result["text"] == "Hello world. Again"
    assert result["lastPartial"] == "and"
    assert 500 <= result["delays"][0] <= 1000 and 4000 <= result["delays"][3] <= 8000
    assert 15000 <= result["delays"][4] <= 30000
    assert result["derived"] == "wss://edge.example:8443/ws?token=a%20b"
    assert result["fixed"] == "wss://x/ws"
    assert result["plain"] == "ws://h/ws"
