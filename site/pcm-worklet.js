// AudioWorklet: microphone -> Float32 mono PCM at 16 kHz, in frames of
// `frameSamples` (default 1600 = 100 ms), posted to the main thread with the
// frame's RMS level. When the AudioContext does not run at 16 kHz the signal
// is resampled here with a windowed-sinc low-pass (anti-alias) filter.
'use strict';

const ZERO_CROSSINGS = 16;   // kernel half-width, in output-rate periods
const PHASES = 256;          // fractional-delay table resolution
const CUTOFF = 0.92;         // of the output Nyquist frequency

function besselI0(x) {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 30; k += 1) {
    term *= (x / (2 * k)) * (x / (2 * k));
    sum += term;
  }
  return sum;
}

// Band-limited resampler: output sample n sits at input position n * step;
// its value is the input convolved with a Kaiser-windowed sinc whose cutoff
// is CUTOFF * min(inRate, outRate) / 2. Input history is kept across blocks.
class SincResampler {
  constructor(inRate, outRate) {
    this.step = inRate / outRate;
    const scale = Math.min(1, outRate / inRate);
    this.fc = CUTOFF * scale;                       // cutoff, cycles per input sample * 2
    this.half = Math.ceil(ZERO_CROSSINGS / scale);  // half-width in input samples
    const beta = 8.6;
    const i0b = besselI0(beta);
    this.table = new Float32Array((2 * this.half + 1) * PHASES + 1);
    for (let i = 0; i < this.table.length; i += 1) {
      const x = i / PHASES - this.half;              // distance in input samples
      const r = x / this.half;
      const window = Math.abs(r) <= 1 ? besselI0(beta * Math.sqrt(1 - r * r)) / i0b : 0;
      const arg = Math.PI * this.fc * x;
      const sinc = x === 0 ? 1 : Math.sin(arg) / arg;
      this.table[i] = this.fc * sinc * window;
    }
    this.history = new Float32Array(0);
    this.pos = this.half;  // next output position, in history coordinates
  }

  process(input) {
    const buf = new Float32Array(this.history.length + input.length);
    buf.set(this.history, 0);
    buf.set(input, this.history.length);
    const out = [];
    while (this.pos + this.half < buf.length) {
      const base = Math.floor(this.pos);
      const frac = this.pos - base;
      let acc = 0;
      for (let k = -this.half + 1; k <= this.half; k += 1) {
        const x = k - frac;                          // tap distance
        const t = (x + this.half) * PHASES;
        const i = Math.floor(t);
        const w = this.table[i] + (this.table[i + 1] - this.table[i]) * (t - i);
        acc += buf[base + k] * w;
      }
      out.push(acc);
      this.pos += this.step;
    }
    // Keep what the next block's outputs still need.
    const keepFrom = Math.max(0, Math.floor(this.pos) - this.half);
    this.history = buf.slice(keepFrom);
    this.pos -= keepFrom;
    return out;
  }
}

class PcmCaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const opts = (options && options.processorOptions) || {};
    this.targetRate = opts.targetRate || 16000;
    this.frameSamples = opts.frameSamples || 1600;
    this.resampler = sampleRate === this.targetRate ? null : new SincResampler(sampleRate, this.targetRate);
    this.frame = new Float32Array(this.frameSamples);
    this.fill = 0;
    this.port.postMessage({ type: 'format', contextRate: sampleRate, targetRate: this.targetRate,
                            frameSamples: this.frameSamples, resampling: this.resampler !== null });
  }

  push(samples) {
    for (let i = 0; i < samples.length; i += 1) {
      this.frame[this.fill] = samples[i];
      this.fill += 1;
      if (this.fill === this.frameSamples) {
        let energy = 0;
        for (let j = 0; j < this.frameSamples; j += 1) energy += this.frame[j] * this.frame[j];
        const rms = Math.sqrt(energy / this.frameSamples);
        const out = this.frame;
        this.port.postMessage({ type: 'frame', pcm: out, rms }, [out.buffer]);
        this.frame = new Float32Array(this.frameSamples);
        this.fill = 0;
      }
    }
  }

  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      let mono = channels[0];
      if (channels.length > 1) {
        mono = new Float32Array(channels[0].length);
        for (const ch of channels) for (let i = 0; i < ch.length; i += 1) mono[i] += ch[i] / channels.length;
      }
      this.push(this.resampler ? this.resampler.process(mono) : mono);
    }
    return true;
  }
}

registerProcessor('pcm-capture', PcmCaptureProcessor);
