// Push-to-talk capture: the context's audio (any rate, any channel count) as 16 kHz mono
// signed 16-bit little-endian PCM, posted in 20 ms frames of 640 bytes, with the frame's level.
//
// Resampling is linear interpolation on a running source position, so frames line up across
// the 128-sample render quanta and no sample is dropped or repeated at their edges. The
// browser's own resampler does not run here: an AudioContext can be asked for 16 kHz, but
// not every browser honours it for a live microphone, so the worklet converts whatever rate
// it gets. The main thread sends {flush: true} on release to get the last partial frame.
class MicCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / 16000; // source samples per output sample
    this.position = 0; // source position of the next output sample, relative to `previous`
    this.previous = 0; // the last source sample of the previous quantum
    this.frame = new Int16Array(320); // 20 ms at 16 kHz
    this.filled = 0;
    this.peak = 0;
    this.port.onmessage = (event) => {
      if (event.data && event.data.flush) {
        if (this.filled > 0) this.post(this.filled);
        this.port.postMessage({ flushed: true });
      }
    };
  }

  post(length) {
    const pcm = this.frame.slice(0, length); // Int16Array: little-endian on every platform browsers run on
    this.port.postMessage({ pcm: pcm.buffer, level: this.peak }, [pcm.buffer]);
    this.filled = 0;
    this.peak = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || input[0].length === 0) return true;
    const length = input[0].length;
    const channels = input.length;
    // Mono: the mean of the channels.
    const mono = new Float32Array(length);
    for (let c = 0; c < channels; c++) {
      const data = input[c];
      for (let i = 0; i < length; i++) mono[i] += data[i] / channels;
    }
    // Source index -1 is `previous`, 0..length-1 this quantum.
    let position = this.position;
    while (position <= length - 1) {
      const base = Math.floor(position);
      const frac = position - base;
      const a = base < 0 ? this.previous : mono[base];
      const b = mono[base + 1 < length ? base + 1 : length - 1];
      let sample = a + (b - a) * frac;
      if (sample > 1) sample = 1;
      else if (sample < -1) sample = -1;
      const magnitude = sample < 0 ? -sample : sample;
      if (magnitude > this.peak) this.peak = magnitude;
      this.frame[this.filled++] = sample < 0 ? sample * 0x8000 : sample * 0x7fff;
      if (this.filled === this.frame.length) this.post(this.filled);
      position += this.ratio;
    }
    this.position = position - length;
    this.previous = mono[length - 1];
    return true;
  }
}

registerProcessor("livedeck-mic", MicCapture);
