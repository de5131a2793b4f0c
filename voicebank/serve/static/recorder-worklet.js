// The recorder's audio thread: measures the microphone's level all the time and, while
// recording, hands every sample (mono, float32, at the context's rate) to the page.

const LEVEL_EVERY = 16; // blocks of 128 frames between level reports (~45 ms at 44.1 kHz)
const BATCH = 32; // blocks per batch of samples posted while recording (~90 ms)

class Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.recording = false;
    this.batch = [];
    this.blocks = 0;
    this.peak = 0;
    this.power = 0;
    this.frames = 0;
    this.port.onmessage = (event) => this.command(event.data);
  }

  command(message) {
    if (message.type === "start") {
      this.batch = [];
      this.recording = true;
    } else if (message.type === "stop") {
      this.recording = false;
      this.flush();
      this.port.postMessage({ type: "stopped" });
    }
  }

  flush() {
    if (!this.batch.length) return;
    const size = this.batch.reduce((n, b) => n + b.length, 0);
    const out = new Float32Array(size);
    let at = 0;
    for (const b of this.batch) {
      out.set(b, at);
      at += b.length;
    }
    this.batch = [];
    this.port.postMessage({ type: "pcm", pcm: out }, [out.buffer]);
  }

  // A stereo input (some devices give two channels of one microphone) is averaged to mono.
  mono(channels) {
    if (channels.length === 1) return Float32Array.from(channels[0]);
    const out = new Float32Array(channels[0].length);
    for (const ch of channels) for (let i = 0; i < out.length; i++) out[i] += ch[i] / channels.length;
    return out;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || !channels.length) return true;
    const block = this.mono(channels);
    for (let i = 0; i < block.length; i++) {
      const v = Math.abs(block[i]);
      if (v > this.peak) this.peak = v;
      this.power += block[i] * block[i];
    }
    this.frames += block.length;
    if (this.recording) {
      this.batch.push(block);
      if (this.batch.length >= BATCH) this.flush();
    }
    if (++this.blocks >= LEVEL_EVERY) {
      this.port.postMessage({ type: "level", peak: this.peak, rms: Math.sqrt(this.power / Math.max(1, this.frames)) });
      this.blocks = this.frames = 0;
      this.peak = this.power = 0;
    }
    return true;
  }
}

registerProcessor("voicebank-capture", Capture);
