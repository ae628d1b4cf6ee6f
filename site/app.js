// Browser client for WhisperLive behind the edge: microphone -> AudioWorklet
// (Float32 mono 16 kHz frames) -> WebSocket; transcript segments back.
'use strict';

const TARGET_RATE = 16000;
const FRAME_SAMPLES = 1600;          // 100 ms per frame
const MAX_PENDING_FRAMES = 50;       // audio kept while (re)connecting: 5 s
const MAX_WAKE_PENDING_FRAMES = 1800; // and while a sleeping GPU server starts: 3 min, sent once it is up
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const FINAL_SILENCE_FRAMES = 25;   // 2.5 s of silence on Stop
const FINISH_TIMEOUT_MS = 5000;

// ---- transcript model (pure; also unit-tested in node) -------------------
// WhisperLive re-sends the last N segments each time; only the last may be
// incomplete. Completed ones are kept by session and start time.
function createTranscript() {
  return { completed: new Map(), partial: null };
}

function applySegments(transcript, session, segments) {
  transcript.partial = null;
  segments.forEach((seg, index) => {
    const text = String(seg.text || '').trim();
    if (seg.completed) {
      transcript.completed.set(session + ':' + seg.start,
        { session, start: parseFloat(seg.start), text });
    } else if (index === segments.length - 1 && text) {
      transcript.partial = { session, start: parseFloat(seg.start), text };
    }
  });
  return transcript;
}

function completedSegments(transcript) {
  return Array.from(transcript.completed.values())
    .filter((seg) => seg.text)
    .sort((a, b) => (a.session - b.session) || (a.start - b.start));
}

function transcriptText(transcript) {
  return completedSegments(transcript).map((seg) => seg.text).join(' ');
}

function backoffDelay(attempt) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return Math.round(base / 2 + Math.random() * base / 2);
}

function socketUrl(config, location) {
  let url = config.socket_url;
  if (!url) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url = scheme + '//' + location.host + (config.socket_path || '/ws');
  }
  const token = new URLSearchParams(location.search).get('token');
  if (token) url += (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
  return url;
}

// ---- GPU wake (no DOM; fetch, clock and callbacks come in through io) ----
// An edge component may put the GPU server to sleep when idle: GET gpu/state
// says how it is, POST gpu/wake starts it. Without that component gpu/state
// is a 404 (or no JSON) and the page behaves as if none of this existed.
const WAKE_POLL_MS = 1000;
const HELD_POLL_MS = 10000;
const WAKE_MIN_INTERVAL_MS = 10000;
const REQUEST_TIMEOUT_MS = 5000;
const WAITING_STATES = ['asleep', 'starting', 'stopping', 'held'];
const HELD_TEXT = 'The transcription server was stopped by the operator (playbook 210); ' +
  'it starts again with playbook 220.';

// The next step for a gpu/state reading (null: no component): 'ready'
// (connect), 'wake' (POST gpu/wake) or 'wait' (read the state again).
function wakeStep(gpu, nowMs, nextWakeMs) {
  if (!gpu || WAITING_STATES.indexOf(gpu.state) < 0) return 'ready';
  return gpu.state === 'asleep' && nowMs >= nextWakeMs ? 'wake' : 'wait';
}

// What the page shows while it waits; retryS > 0 after a 429 from gpu/wake.
function wakeView(gpu, retryS) {
  const view = { kind: 'starting', state: 'Starting server', message: '', progress: null };
  if (gpu.state === 'held') {
    return Object.assign(view, { kind: 'held', state: 'Stopped by the operator', message: HELD_TEXT });
  }
  if (retryS > 0) {
    view.message = 'Too many requests to start the transcription server; trying again in ' + retryS + ' s.';
  } else if (gpu.state === 'stopping') {
    view.message = 'The transcription server is going to sleep; it is started again as soon as it has stopped.';
  } else {
    const eta = Number(gpu.eta_s) || 0;
    const elapsed = gpu.state === 'starting' ? Number(gpu.elapsed_s) || 0 : 0;
    view.message = 'Starting the transcription server, about ' + Math.max(1, Math.ceil(eta - elapsed)) + ' s.';
    view.progress = eta > 0 ? Math.min(0.99, elapsed / eta) : 0;
  }
  return view;
}

function retryAfterMs(response) {
  const seconds = Number(response.headers.get('Retry-After'));
  return seconds > 0 ? seconds * 1000 : WAKE_MIN_INTERVAL_MS;
}

// Follows gpu/state until the server is awake (or there is no component),
// waking it when it sleeps. io: {fetch, now, setTimeout, onView(view|null), onReady()}.
function createWaker(io) {
  const w = { gpu: undefined, active: false, nextWake: 0, limited: false };

  async function readJson(url, options) {
    try {
      const timeout = typeof AbortSignal !== 'undefined' && AbortSignal.timeout;
      const response = await io.fetch(url, Object.assign({ cache: 'no-store' },
        timeout ? { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) } : {}, options));
      let body = null;
      try { body = await response.json(); } catch (err) { /* not JSON */ }
      return { response, body: body && typeof body === 'object' ? body : null };
    } catch (err) {
      return { response: null, body: null };
    }
  }

  async function wake(now) {
    w.nextWake = now + WAKE_MIN_INTERVAL_MS;
    w.limited = false;
    const { response, body } = await readJson('gpu/wake', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
    });
    if (!response) return;
    if (response.status === 429) {
      w.limited = true;
      w.nextWake = Math.max(w.nextWake, now + retryAfterMs(response));
    } else if (response.status === 409) {
      w.gpu = Object.assign({}, body, { state: 'held' });
    } else if (response.ok && body) {
      w.gpu = body;
    }
  }

  async function step() {
    const { response, body } = await readJson('gpu/state');
    w.gpu = response && response.ok ? body : null;
    const now = io.now();
    if (wakeStep(w.gpu, now, w.nextWake) === 'wake') await wake(now);
    if (w.gpu && w.gpu.state !== 'asleep') w.limited = false;
    if (wakeStep(w.gpu, now, Infinity) === 'ready') {
      w.active = false;
      io.onView(null);
      io.onReady();
      return;
    }
    const retryS = w.limited ? Math.ceil((w.nextWake - io.now()) / 1000) : 0;
    io.onView(wakeView(w.gpu, retryS));
    io.setTimeout(step, w.gpu.state === 'held' ? HELD_POLL_MS : WAKE_POLL_MS);
  }

  return {
    follow() {
      if (w.active) return;
      w.active = true;
      step();
    },
    // True until the first answer, and while the server is not awake.
    blocking: () => w.active || w.gpu === undefined,
  };
}

if (typeof module !== 'undefined') {
  module.exports = {
    createTranscript, applySegments, completedSegments, transcriptText, backoffDelay, socketUrl,
    wakeStep, wakeView, createWaker, HELD_TEXT,
  };
}

// ---- page ----------------------------------------------------------------
if (typeof document !== 'undefined') {
  const $ = (id) => document.getElementById(id);
  const ui = {
    model: $('model'), language: $('language'), start: $('start'), stop: $('stop'),
    state: $('state'), level: $('level'), format: $('format'), message: $('message'),
    transcript: $('transcript'), copy: $('copy'), download: $('download'), clear: $('clear'),
    progress: $('wake-progress'),
  };
  let config = null;
  let transcript = createTranscript();
  let session = 0;
  let running = false;
  let ws = null;
  let ready = false;
  let pending = [];
  let attempt = 0;
  let reconnectTimer = null;
  let audio = null;   // {context, stream, node, source}
  let wakeShown = null;   // the waker's view on the page, if any
  let gpuWaitSession = 0;   // the session the edge answered with WAIT gpu_starting
  const waker = createWaker({
    fetch: (url, options) => fetch(url, options),
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    onView: showWake,
    onReady: () => { if (running && !ws && !reconnectTimer) connect(); },
  });

  function setState(kind, text) {
    ui.state.className = 'state state-' + kind;
    ui.state.textContent = text;
  }

  // quiet: the text is not read out as it changes (the wake countdown).
  function showMessage(text, isError, quiet) {
    if (quiet) ui.message.setAttribute('aria-live', 'off');
    else ui.message.removeAttribute('aria-live');
    ui.message.hidden = !text;
    ui.message.textContent = text || '';
    ui.message.classList.toggle('error', Boolean(isError));
  }

  // The GPU server's start, from the waker; null: awake (or no wake component).
  // Live regions change only when the words do; the countdown changes each
  // second, so it is not read out (#state says "Starting server" once).
  // A microphone error stays until the next Start.
  function showWake(view) {
    const was = wakeShown;
    const keep = ui.message.classList.contains('error');
    wakeShown = view;
    if (!view) {
      if (!was) return;
      showProgress(null);
      if (!keep) showMessage('');
      if (!running) setState('idle', 'Server ready');
      return;
    }
    if (ui.state.textContent !== view.state) setState(view.kind, view.state);
    if (!keep && (ui.message.hidden || ui.message.textContent !== view.message)) {
      showMessage(view.message, false, view.kind !== 'held');
    }
    showProgress(view.progress);
  }

  function showProgress(value) {
    if (!ui.progress) return;   // an index.html from before the wake component
    ui.progress.hidden = value === null;
    if (value !== null) ui.progress.value = value;
  }

  function render() {
    const nodes = completedSegments(transcript).map((seg) => {
      const span = document.createElement('span');
      span.className = 'segment completed';
      span.textContent = seg.text + ' ';
      return span;
    });
    if (transcript.partial) {
      const span = document.createElement('span');
      span.className = 'segment partial';
      span.textContent = transcript.partial.text;
      nodes.push(span);
    }
    ui.transcript.replaceChildren(...nodes);
  }

  async function loadConfig() {
    const response = await fetch('config.json', { cache: 'no-store' });
    if (!response.ok) throw new Error('config.json: HTTP ' + response.status);
    config = await response.json();
    const models = config.models || [];
    ui.model.replaceChildren(...models.map((name) => new Option(name, name, false, name === config.default_model)));
    if (config.language) ui.language.value = config.language;
    const englishOnly = models.length > 0 && models.every((name) => name.endsWith('.en'));
    ui.language.disabled = englishOnly;
    if (englishOnly) ui.language.value = 'en';
    if (models.length === 0) {
      showMessage('The server lists no transcription model; ask the operator.', true);
      ui.start.disabled = true;
    }
  }

  async function startAudio() {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    let context;
    try {
      context = new AudioContext({ sampleRate: TARGET_RATE });
    } catch (err) {
      context = new AudioContext();   // resampled in the worklet
    }
    await context.audioWorklet.addModule('pcm-worklet.js');
    const source = context.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(context, 'pcm-capture', {
      numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: 'explicit',
      processorOptions: { targetRate: TARGET_RATE, frameSamples: FRAME_SAMPLES },
    });
    node.port.onmessage = (event) => {
      const msg = event.data;
      if (msg.type === 'format') {
        ui.format.textContent = msg.resampling
          ? 'mic ' + msg.contextRate + ' Hz, resampled to ' + msg.targetRate + ' Hz'
          : 'mic ' + msg.contextRate + ' Hz';
      } else if (msg.type === 'frame') {
        ui.level.value = Math.min(1, msg.rms * 4);
        sendFrame(msg.pcm);
      }
    };
    source.connect(node);
    audio = { context, stream, node, source };
  }

  function stopAudio() {
    if (!audio) return;
    audio.source.disconnect();
    audio.node.port.onmessage = null;
    audio.stream.getTracks().forEach((track) => track.stop());
    audio.context.close();
    audio = null;
    ui.level.value = 0;
  }

  function sendFrame(pcm) {
    if (ws && ready && ws.readyState === WebSocket.OPEN) {
      ws.send(pcm.buffer);
    } else if (running) {
      pending.push(pcm);
      if (pending.length > (waker.blocking() ? MAX_WAKE_PENDING_FRAMES : MAX_PENDING_FRAMES)) pending.shift();
    }
  }

  function connect() {
    reconnectTimer = null;
    session += 1;
    ready = false;
    const url = socketUrl(config, window.location);
    setState('connecting', attempt ? 'Reconnecting…' : 'Connecting…');
    ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const mySession = session;
    ws.onopen = () => {
      const options = {
        uid: (crypto.randomUUID ? crypto.randomUUID() : String(Date.now())),
        language: ui.language.value === 'auto' ? null : ui.language.value,
        task: 'transcribe',
        model: ui.model.value,
        use_vad: config.use_vad !== false,
        send_last_n_segments: 10,
        no_speech_thresh: 0.45,
        clip_audio: false,
      };
      // The server ends segments where the speaker stops; the repetition
      // count is upstream's fallback, sent only when the deployment sets one.
      if (config.same_output_threshold > 0) options.same_output_threshold = config.same_output_threshold;
      ws.send(JSON.stringify(options));
      setState('connecting', 'Waiting for the server…');
    };
    ws.onmessage = (event) => onServerMessage(mySession, event.data);
    ws.onclose = (event) => onClose(mySession, event);
    ws.onerror = () => { /* onclose follows with the details */ };
  }

  function onServerMessage(mySession, data) {
    let msg;
    try { msg = JSON.parse(data); } catch (err) { return; }
    if (msg.message === 'SERVER_READY') {
      ready = true;
      attempt = 0;
      setState('live', 'Listening' + (msg.backend ? ' (' + msg.backend + ')' : ''));
      showMessage('');
      const queued = pending;
      pending = [];
      queued.forEach((pcm) => sendFrame(pcm));
    } else if (msg.status === 'WAIT' && msg.reason === 'gpu_starting') {
      // The GPU server sleeps: wake it, and connect again once it is up.
      gpuWaitSession = mySession;
      setState('starting', 'Starting server');
      waker.follow();
    } else if (msg.status === 'WAIT') {
      const minutes = Math.max(0, Math.round(Number(msg.message) || 0));
      setState('wait', 'Server busy');
      showMessage('WAIT: all transcription slots are in use; about ' + minutes +
        ' minute(s) until one frees up. Retrying automatically.', false);
    } else if (msg.status === 'ERROR') {
      setState('error', 'Server error');
      showMessage('ERROR from the server: ' + msg.message, true);
    } else if (msg.status === 'WARNING') {
      showMessage('Server warning: ' + msg.message, false);
    } else if (msg.message === 'DISCONNECT') {
      setState('wait', 'Session ended by the server');
      showMessage('DISCONNECT: the server ended this session (time limit reached).' +
        (running ? ' Starting a new one.' : ''), false);
    } else if (Array.isArray(msg.segments)) {
      applySegments(transcript, mySession, msg.segments);
      render();
    } else if (msg.language) {
      ui.format.textContent += ' · language ' + msg.language;
    }
  }

  function onClose(mySession, event) {
    if (mySession !== session) return;
    ready = false;
    ws = null;
    if (!running) {
      setState('idle', 'Stopped');
      return;
    }
    if (waker.blocking()) return;   // the waker connects once the server is up
    if (gpuWaitSession === mySession) {   // it was up again before this close
      reconnectTimer = setTimeout(connect, BACKOFF_MIN_MS);
      return;
    }
    const delay = backoffDelay(attempt);
    attempt += 1;
    if (ui.state.className.indexOf('state-error') < 0 && ui.state.className.indexOf('state-wait') < 0) {
      setState('connecting', 'Disconnected');
      // 1006: no close frame (the server or the network went away); otherwise the server said why.
      const what = event.code === 1006 ? 'The connection to the transcription server was lost'
        : 'The transcription server closed the connection (code ' + event.code +
          (event.reason ? ': ' + event.reason : '') + ')';
      showMessage(what + '; reconnecting in ' + Math.max(1, Math.round(delay / 1000)) + ' s.', false);
    }
    reconnectTimer = setTimeout(connect, delay);
  }

  async function start() {
    ui.start.disabled = true;
    showMessage('');
    if (wakeShown) showWake(wakeShown);
    try {
      running = true;
      attempt = 0;
      pending = [];
      await startAudio();
      // While the GPU server starts, frames wait in `pending`; the waker connects.
      if (!waker.blocking()) connect();
      else if (!wakeShown) setState('connecting', 'Connecting…');
      ui.stop.disabled = false;
    } catch (err) {
      running = false;
      stopAudio();
      setState('error', 'Microphone unavailable');
      showMessage('Could not open the microphone: ' + err.message, true);
      ui.start.disabled = false;
    }
  }

  function stop() {
    running = false;
    ui.stop.disabled = true;
    ui.start.disabled = false;
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    stopAudio();
    pending = [];
    const closing = ws;
    if (closing && ready && closing.readyState === WebSocket.OPEN) {
      // The server finalises a segment only after trailing silence, and closes
      // at once on END_OF_AUDIO: send silence, let the last words complete.
      setState('connecting', 'Finishing…');
      for (let i = 0; i < FINAL_SILENCE_FRAMES; i += 1) closing.send(new Float32Array(FRAME_SAMPLES).buffer);
      const deadline = Date.now() + FINISH_TIMEOUT_MS;
      const waitForFinal = () => {
        if (closing.readyState !== WebSocket.OPEN) return;
        if (transcript.partial && Date.now() < deadline) {
          setTimeout(waitForFinal, 200);
          return;
        }
        closing.send('END_OF_AUDIO');
        setState('idle', 'Stopped');
      };
      setTimeout(waitForFinal, 1000);
    } else {
      if (closing) closing.close();
      setState('idle', 'Stopped');
    }
  }

  ui.start.addEventListener('click', start);
  ui.stop.addEventListener('click', stop);
  ui.copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(transcriptText(transcript));
      showMessage('Transcript copied.', false);
    } catch (err) {
      showMessage('Copy failed: ' + err.message, true);
    }
  });
  ui.download.addEventListener('click', () => {
    const blob = new Blob([transcriptText(transcript) + '\n'], { type: 'text/plain' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = 'transcript-' + new Date().toISOString().replace(/[:.]/g, '-') + '.txt';
    link.click();
    URL.revokeObjectURL(link.href);
  });
  ui.clear.addEventListener('click', () => { transcript = createTranscript(); render(); });

  loadConfig().then(() => waker.follow(), (err) => {
    showMessage('Could not load config.json: ' + err.message, true);
    ui.start.disabled = true;
  });
}
