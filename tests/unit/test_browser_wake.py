"""The page wakes a sleeping GPU server (edge component gpu/state, gpu/wake).

app.js runs in node against a small fake of the page's DOM, the microphone,
fetch and WebSocket, on a virtual clock; a scripted edge answers gpu/state,
gpu/wake and the socket as the edge component does. Each run reports what
was requested when, and what #state, #message and #wake-progress showed.
"""

import json
import os
import shutil
import subprocess

import pytest

SITE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "site")
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

HELD_TEXT = ("The transcription server was stopped by the operator (playbook 210); "
             "it starts again with playbook 220.")

PAGE_HARNESS = r"""
const fs = require('fs');
const vm = require('vm');
const [,, file, planJson] = process.argv;
const plan = Object.assign({ component: 'yes', state: 'awake', eta_s: 5, wake: [], start_at: null, run_s: 20 },
                           JSON.parse(planJson));

// ---- virtual clock ----
let now = 0;
let timers = [];
let nextTimer = 1;
const t = () => Math.round(now) / 1000;
function setTimeoutFake(fn, ms) { const id = nextTimer++; timers.push({ id, due: now + (ms || 0), fn }); return id; }
function clearTimeoutFake(id) { timers = timers.filter((x) => x.id !== id); }
const flush = () => new Promise((resolve) => setImmediate(resolve));

// ---- the edge: gpu/state, gpu/wake, config.json, the socket ----
const edge = { state: plan.state, startedAt: 0, slept: false, requests: [] };
function refresh() {
  if (edge.state === 'starting' && (now - edge.startedAt) / 1000 >= plan.eta_s) edge.state = 'awake';
  if (edge.state === 'stopping' && now / 1000 >= plan.stopping_s) edge.state = 'asleep';
  if (plan.sleep_at != null && !edge.slept && now / 1000 >= plan.sleep_at) { edge.slept = true; edge.state = 'asleep'; }
}
function gpuBody() {
  return { state: edge.state, eta_s: plan.eta_s, since: '2024-01-01T00:00:00Z', message: 'scripted',
           elapsed_s: edge.state === 'starting' ? (now - edge.startedAt) / 1000 : 0 };
}
function reply(status, body, headers) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return { ok: status >= 200 && status < 300, status,
           headers: { get: (name) => (headers || {})[name] || null },
           json: async () => JSON.parse(text) };
}
async function fetchFake(url, options) {
  const method = (options && options.method) || 'GET';
  edge.requests.push({ t: t(), method, url });
  refresh();
  if (url === 'config.json') return reply(200, { models: ['tiny.en'], default_model: 'tiny.en', socket_path: '/ws' });
  if (plan.component === 'network-error') throw new TypeError('Failed to fetch');
  if (plan.component === 'html') return reply(200, '<!doctype html><title>page</title>');
  if (plan.component === 'no') return reply(404, 'Not Found');
  if (url === 'gpu/state' && method === 'GET') return reply(200, gpuBody());
  if (url === 'gpu/wake' && method === 'POST') {
    const scripted = plan.wake.shift();
    if (scripted && scripted.status === 429) {
      return reply(429, { message: 'slow down' }, { 'Retry-After': String(scripted.retry_after) });
    }
    if (scripted && scripted.status === 409) edge.state = 'held';
    if (edge.state === 'held') return reply(409, { state: 'held', message: 'held by playbook 210' });
    if (edge.state === 'awake') return reply(200, gpuBody());
    if (edge.state === 'asleep') { edge.state = 'starting'; edge.startedAt = now; }
    return reply(202, gpuBody());
  }
  return reply(404, 'Not Found');
}

const sockets = [];
let framesSent = 0;
class FakeSocket {
  constructor(url) {
    this.url = url; this.readyState = 0; this.index = sockets.length;
    sockets.push({ t: t(), url, closedBy: null, code: null });
    setTimeoutFake(() => { this.readyState = 1; this.onopen && this.onopen(); }, 10);
  }
  send(data) {
    if (typeof data !== 'string') { framesSent += 1; return; }
    if (data === 'END_OF_AUDIO') return;
    const options = JSON.parse(data);
    refresh();
    setTimeoutFake(() => {
      if (edge.state !== 'awake') {
        this.onmessage({ data: JSON.stringify({ uid: options.uid, status: 'WAIT', message: 0.1,
                                                reason: 'gpu_starting', eta_s: plan.eta_s }) });
        this.closeWith(1013, 'server');
      } else {
        this.onmessage({ data: JSON.stringify({ uid: options.uid, message: 'SERVER_READY', backend: 'faster_whisper' }) });
      }
    }, 10);
  }
  close() { this.closeWith(1000, 'client'); }
  closeWith(code, by) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    Object.assign(sockets[this.index], { closedBy: by, code });
    setTimeoutFake(() => this.onclose({ code, reason: '' }), 5);
  }
}
FakeSocket.OPEN = 1;

// ---- the page: the elements app.js uses, microphone and audio graph ----
function element(id) {
  return { id, className: '', textContent: '', hidden: false, value: '', disabled: false, listeners: {},
           classList: { names: new Set(), contains(name) { return this.names.has(name); },
                        toggle(name, on) { if (on) this.names.add(name); else this.names.delete(name); } },
           attributes: {}, setAttribute(name, value) { this.attributes[name] = String(value); },
           removeAttribute(name) { delete this.attributes[name]; },
           addEventListener(type, fn) { this.listeners[type] = fn; },
           replaceChildren(...nodes) { this.children = nodes; } };
}
const ids = ['model', 'language', 'start', 'stop', 'state', 'level', 'format', 'message', 'transcript',
             'copy', 'download', 'clear', 'wake-progress'];
const el = {};
ids.forEach((id) => { el[id] = element(id); });
el.state.className = 'state state-idle'; el.state.textContent = 'Idle';
el.message.hidden = true; el['wake-progress'].hidden = true; el['wake-progress'].value = 0;
el.language.value = 'en'; el.stop.disabled = true;

let node = null;
let uid = 0;
const context = {
  document: { getElementById: (id) => el[id], createElement: () => element('') },
  window: { location: { protocol: 'https:', host: 'edge.example', search: '' } },
  navigator: { mediaDevices: { getUserMedia: async () => {
    if (plan.mic === 'denied') throw new Error('Permission denied');
    return { getTracks: () => [{ stop() {} }] };
  } } },
  AudioContext: class { constructor() { this.audioWorklet = { addModule: async () => {} }; }
                        createMediaStreamSource() { return { connect() {}, disconnect() {} }; } close() {} },
  AudioWorkletNode: class { constructor() { this.port = { onmessage: null }; node = this; } },
  Option: class { constructor(text, value) { this.text = text; this.value = value; } },
  WebSocket: FakeSocket,
  URLSearchParams,
  crypto: { randomUUID: () => 'uid-' + (uid += 1) },
  fetch: fetchFake,
  setTimeout: setTimeoutFake,
  clearTimeout: clearTimeoutFake,
  console,
};
vm.createContext(context);
vm.runInContext('Date.now = () => __now();', Object.assign(context, { __now: () => now }));

// The microphone: a 100 ms frame on the clock while the audio graph is open.
function micTick() {
  if (node && node.port.onmessage) node.port.onmessage({ data: { type: 'frame', rms: 0.1, pcm: new Float32Array(1600) } });
  setTimeoutFake(micTick, 100);
}

const log = [];
function snapshot() {
  const p = el['wake-progress'];
  const view = { state: el.state.textContent, stateClass: el.state.className,
                 message: el.message.hidden ? null : el.message.textContent,
                 messageError: el.message.classList.names.has('error'),
                 messageLive: el.message.attributes['aria-live'] || null,
                 progress: p.hidden ? null : Number(p.value) };
  const last = log.length ? log[log.length - 1] : {};
  if (['state', 'stateClass', 'message', 'messageError', 'messageLive', 'progress'].some((k) => last[k] !== view[k])) {
    log.push(Object.assign({ t: t() }, view));
  }
}

(async () => {
  vm.runInContext(fs.readFileSync(file, 'utf8'), context, { filename: 'app.js' });
  setTimeoutFake(micTick, 100);
  if (plan.start_at != null) setTimeoutFake(() => el.start.listeners.click(), plan.start_at * 1000);
  await flush(); await flush(); snapshot();
  while (timers.length) {
    timers.sort((a, b) => (a.due - b.due) || (a.id - b.id));
    const next = timers.shift();
    if (next.due > plan.run_s * 1000) break;
    now = next.due;
    next.fn();
    await flush(); await flush();
    snapshot();
  }
  console.log(JSON.stringify({ requests: edge.requests, sockets, framesSent, log,
                               edge: edge.state, stopDisabled: el.stop.disabled }));
})();
"""


def run_page(tmp_path, **plan):
    harness = tmp_path / "page.js"
    harness.write_text(PAGE_HARNESS)
    out = subprocess.run([NODE, str(harness), os.path.join(SITE, "app.js"), json.dumps(plan)],
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def gpu_requests(result, method=None):
    return [r for r in result["requests"] if r["url"].startswith("gpu/") and method in (None, r["method"])]


def messages(result):
    return [entry["message"] for entry in result["log"] if entry["message"]]


@pytest.mark.parametrize("component", ["no", "html", "network-error"])
def test_without_the_wake_component_the_page_is_as_before(tmp_path, component):
    # 404, a page instead of JSON, or no answer: one look at gpu/state, then today's page.
    result = run_page(tmp_path, component=component, start_at=0.5, run_s=5)
    assert [(r["method"], r["url"]) for r in result["requests"]] == [("GET", "config.json"), ("GET", "gpu/state")]
    assert messages(result) == []
    assert all(entry["progress"] is None and entry["messageLive"] is None for entry in result["log"])
    assert [s["t"] for s in result["sockets"]] == [0.5]          # connects on the click, no delay
    assert [entry["state"] for entry in result["log"]] == ["Idle", "Connecting…", "Waiting for the server…",
                                                           "Listening (faster_whisper)"]


def test_an_awake_server_is_used_at_once_without_a_wake(tmp_path):
    result = run_page(tmp_path, state="awake", start_at=0.5, run_s=5)
    assert gpu_requests(result) == [{"t": 0, "method": "GET", "url": "gpu/state"}]
    assert messages(result) == []
    assert [s["t"] for s in result["sockets"]] == [0.5]
    assert result["log"][-1]["state"] == "Listening (faster_whisper)"


def test_a_sleeping_server_is_woken_once_and_the_page_goes_live_by_itself(tmp_path):
    # Start is clicked while the server starts; the socket opens only once it is awake.
    result = run_page(tmp_path, state="asleep", eta_s=5, start_at=0.5, run_s=12)
    posts = gpu_requests(result, "POST")
    assert posts == [{"t": 0, "method": "POST", "url": "gpu/wake"}]
    gets = [r["t"] for r in gpu_requests(result, "GET")]
    assert gets[:6] == [0, 1, 2, 3, 4, 5] and gets[-1] == 5   # once a second, none once awake
    starting = [e for e in result["log"] if e["message"] and e["message"].startswith("Starting the transcription")]
    assert [e["message"] for e in starting] == ["Starting the transcription server, about %d s." % n
                                                for n in (5, 4, 3, 2, 1)]
    assert all(e["state"] == "Starting server" and e["stateClass"] == "state state-starting"
               and not e["messageError"] for e in starting)
    assert {e["messageLive"] for e in starting} == {"off"}      # the countdown is not read out each second
    assert starting == [e for e in result["log"] if e["t"] < 5]   # no gap when Start is clicked at 0.5 s
    progress = [e["progress"] for e in starting]
    assert progress == sorted(progress) and progress[0] == 0 and 0.7 < progress[-1] <= 0.99
    # Awake at 5 s: the page connects by itself and sends the frames it kept.
    assert [s["t"] for s in result["sockets"]] == [5]
    final = result["log"][-1]
    assert final["state"] == "Listening (faster_whisper)"
    assert final["message"] is None and final["progress"] is None and final["messageLive"] is None
    assert result["framesSent"] >= 50 + 60      # 5 s kept while starting, then live
    assert result["edge"] == "awake" and result["stopDisabled"] is False


def test_a_page_opened_while_the_server_sleeps_wakes_it_without_a_click(tmp_path):
    result = run_page(tmp_path, state="asleep", eta_s=3, run_s=8)
    assert len(gpu_requests(result, "POST")) == 1
    assert result["sockets"] == []
    assert result["log"][-1]["state"] == "Server ready"
    assert result["log"][-1]["message"] is None and result["log"][-1]["progress"] is None


def test_a_server_already_starting_is_followed_without_a_wake(tmp_path):
    result = run_page(tmp_path, state="starting", eta_s=3, start_at=0.5, run_s=8)
    assert gpu_requests(result, "POST") == []
    assert messages(result) == ["Starting the transcription server, about %d s." % n for n in (3, 2, 1)]
    assert [s["t"] for s in result["sockets"]] == [3]


def test_a_microphone_error_during_a_wake_stays_visible(tmp_path):
    result = run_page(tmp_path, state="asleep", eta_s=4, start_at=1.5, mic="denied", run_s=8)
    assert result["sockets"] == []
    errors = [e for e in result["log"] if e["messageError"]]
    assert errors and errors[0]["message"] == "Could not open the microphone: Permission denied"
    after = [e for e in result["log"] if e["t"] >= 1.5]
    assert all(e["message"] == errors[0]["message"] and e["messageLive"] is None for e in after)
    assert result["log"][-1]["state"] == "Server ready"


def test_a_server_held_by_the_operator_is_not_woken(tmp_path):
    result = run_page(tmp_path, state="held", start_at=1, run_s=60)
    assert gpu_requests(result, "POST") == []
    assert result["sockets"] == []
    gets = [r["t"] for r in gpu_requests(result, "GET")]
    assert gets == [0, 10, 20, 30, 40, 50, 60]                 # every 10 s, not faster
    assert set(messages(result)) == {HELD_TEXT}
    assert all(not e["messageError"] for e in result["log"])
    assert result["log"][-1]["messageLive"] is None              # role=alert: read out (once; the text stays)
    assert result["log"][-1]["stateClass"] == "state state-held"
    assert result["log"][-1]["progress"] is None


def test_a_wake_refused_with_409_shows_the_hold(tmp_path):
    # Held by playbook 210 between the page's look and its wake.
    result = run_page(tmp_path, state="asleep", wake=[{"status": 409}], start_at=0.5, run_s=25)
    assert [p["t"] for p in gpu_requests(result, "POST")] == [0]
    assert [r["t"] for r in gpu_requests(result, "GET")] == [0, 10, 20]
    assert set(messages(result)) == {HELD_TEXT}
    assert result["sockets"] == []


def test_a_stopping_server_is_woken_once_it_has_stopped(tmp_path):
    result = run_page(tmp_path, state="stopping", stopping_s=3, eta_s=2, start_at=0.2, run_s=10)
    posts = gpu_requests(result, "POST")
    assert [p["t"] for p in posts] == [3]
    assert any("going to sleep" in m for m in messages(result))
    assert [s["t"] for s in result["sockets"]] == [5]
    assert result["log"][-1]["state"] == "Listening (faster_whisper)"


def test_wait_gpu_starting_on_the_socket_runs_the_wake_flow(tmp_path):
    # Awake at page load, asleep when Start is clicked: the edge answers WAIT gpu_starting and 1013.
    result = run_page(tmp_path, state="awake", sleep_at=1, eta_s=4, start_at=2, run_s=12)
    assert [s["closedBy"] for s in result["sockets"]] == ["server", None]
    assert result["sockets"][0]["code"] == 1013
    posts = gpu_requests(result, "POST")
    assert len(posts) == 1 and 2 <= posts[0]["t"] < 2.1
    shown = messages(result)
    assert not any("slots" in m or "connection" in m or "reconnecting" in m for m in shown), shown
    assert "Starting the transcription server, about 4 s." in shown
    assert 6 <= result["sockets"][1]["t"] < 6.1                   # connects again once awake
    final = result["log"][-1]
    assert final["state"] == "Listening (faster_whisper)" and final["message"] is None


def test_a_rate_limited_wake_waits_retry_after(tmp_path):
    result = run_page(tmp_path, state="asleep", eta_s=3, wake=[{"status": 429, "retry_after": 15}],
                      start_at=0.5, run_s=25)
    posts = [p["t"] for p in gpu_requests(result, "POST")]
    assert posts == [0, 15]
    limited = [m for m in messages(result) if m.startswith("Too many requests")]
    assert limited[0] == "Too many requests to start the transcription server; trying again in 15 s."
    assert limited[-1] == "Too many requests to start the transcription server; trying again in 1 s."
    assert len(limited) == 15
    assert [s["t"] for s in result["sockets"]] == [18]
    assert result["log"][-1]["state"] == "Listening (faster_whisper)"


def test_a_short_retry_after_still_keeps_wakes_10_s_apart(tmp_path):
    result = run_page(tmp_path, state="asleep", eta_s=3, wake=[{"status": 429, "retry_after": 2}], run_s=15)
    assert [p["t"] for p in gpu_requests(result, "POST")] == [0, 10]


DECISION_HARNESS = r"""
const app = require(process.argv[2]);
console.log(JSON.stringify({
  steps: [null, {state: 'awake'}, {state: 'bogus'}, {state: 'asleep'}, {state: 'starting'},
          {state: 'stopping'}, {state: 'held'}].map((gpu) => app.wakeStep(gpu, 5000, 0)),
  early: app.wakeStep({state: 'asleep'}, 5000, 9000),
  starting: app.wakeView({state: 'starting', eta_s: 60, elapsed_s: 45.2}, 0),
  overdue: app.wakeView({state: 'starting', eta_s: 60, elapsed_s: 75}, 0),
  held: app.wakeView({state: 'held'}, 0),
  limited: app.wakeView({state: 'asleep', eta_s: 60}, 7),
}));
"""


def test_wake_decisions(tmp_path):
    harness = tmp_path / "decide.js"
    harness.write_text(DECISION_HARNESS)
    out = subprocess.run([NODE, str(harness), os.path.join(SITE, "app.js")],
                         capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout)
    assert result["steps"] == ["ready", "ready", "ready", "wake", "wait", "wait", "wait"]
    assert result["early"] == "wait"
    assert result["starting"]["message"] == "Starting the transcription server, about 15 s."
    assert abs(result["starting"]["progress"] - 45.2 / 60) < 1e-9
    assert result["overdue"]["message"] == "Starting the transcription server, about 1 s."
    assert result["overdue"]["progress"] == 0.99
    assert result["held"] == {"kind": "held", "state": "Stopped by the operator", "message": HELD_TEXT,
                              "progress": None}
    assert result["limited"]["message"].endswith("trying again in 7 s.") and result["limited"]["progress"] is None
