// The board's WebSocket to /v1/stream (docs/websocket.md): JSON requests out, JSON events and
// id-tagged PCM frames in; it reconnects by itself, waiting longer after each failure.

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const decoder = new TextDecoder();

export function streamUrl(location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/v1/stream`;
}

export class SpeechStream {
  // handlers: onHello(hello), onEvent(event), onAudio(id, pcmBuffer), onState(state, detail)
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.socket = null;
    this.failures = 0;
    this.timer = null;
    this.open = false;
  }

  connect() {
    clearTimeout(this.timer);
    this.handlers.onState("connecting");
    const socket = new WebSocket(this.url);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => this.receive(event.data);
    socket.onopen = () => {
      this.open = true;
      this.failures = 0;
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.open = false;
      this.socket = null;
      this.retry();
    };
    this.socket = socket;
  }

  retry() {
    const wait = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    this.failures += 1;
    const jitter = Math.round(wait * 0.2 * Math.random()); // many tablets do not all come back at once
    this.handlers.onState("waiting", (wait + jitter) / 1000);
    this.timer = setTimeout(() => this.connect(), wait + jitter);
  }

  receive(data) {
    if (typeof data === "string") {
      let event;
      try {
        event = JSON.parse(data);
      } catch {
        return;
      }
      if (event.type === "hello") this.handlers.onHello(event);
      else this.handlers.onEvent(event);
      return;
    }
    const bytes = new Uint8Array(data);
    const n = bytes[0];
    if (!n || bytes.length < 1 + n) return;
    const id = decoder.decode(bytes.subarray(1, 1 + n));
    const pcm = data.slice(1 + n, data.byteLength - ((data.byteLength - 1 - n) % 2));
    this.handlers.onAudio(id, pcm);
  }

  // Send a request; false when there is no connection to send it on.
  send(request) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(request));
    return true;
  }
}
