// Minimal troubleshooting client: same audio path as the main page, raw log.
'use strict';
(() => {
  const log = document.getElementById('log');
  const startButton = document.getElementById('start');
  const stopButton = document.getElementById('stop');
  let ws = null;
  let audio = null;
  const say = (line) => { log.textContent += line + '\n'; };

  async function start() {
    startButton.disabled = true;
    const config = await (await fetch('config.json', { cache: 'no-store' })).json();
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = config.socket_url || (scheme + '//' + location.host + (config.socket_path || '/ws'));
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    let context;
    try { context = new AudioContext({ sampleRate: 16000 }); } catch (err) { context = new AudioContext(); }
    await context.audioWorklet.addModule('pcm-worklet.js');
    const node = new AudioWorkletNode(context, 'pcm-capture', {
      numberOfOutputs: 0, processorOptions: { targetRate: 16000, frameSamples: 1600 } });
    context.createMediaStreamSource(stream).connect(node);
    audio = { context, stream };
    say('connecting to ' + url);
    ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    let ready = false;
    ws.onopen = () => ws.send(JSON.stringify({
      uid: String(Date.now()), language: 'en', task: 'transcribe', model: config.default_model,
      use_vad: true }));
    ws.onmessage = (event) => {
      say(event.data);
      if (String(event.data).includes('SERVER_READY')) ready = true;
    };
    ws.onclose = (event) => say('closed: ' + event.code + ' ' + event.reason);
    node.port.onmessage = (event) => {
      if (event.data.type === 'format') say('audio: ' + JSON.stringify(event.data));
      if (event.data.type === 'frame' && ready && ws.readyState === WebSocket.OPEN) ws.send(event.data.pcm.buffer);
    };
    stopButton.disabled = false;
  }

  function stop() {
    stopButton.disabled = true;
    startButton.disabled = false;
    if (audio) {
      audio.stream.getTracks().forEach((track) => track.stop());
      audio.context.close();
      audio = null;
    }
    if (ws && ws.readyState === WebSocket.OPEN) ws.send('END_OF_AUDIO');
  }

  startButton.addEventListener('click', () => start().catch((err) => { say('error: ' + err.message); startButton.disabled = false; }));
  stopButton.addEventListener('click', stop);
})();
