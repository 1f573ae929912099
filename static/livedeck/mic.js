// Push-to-talk: hold the button (or the Space bar) to talk; let go to stop.
//
// The microphone is asked for on the first press and kept for the page's life, so later presses
// start sending at once. Each press opens `ws/rooms/<id>/mic/`; the server cancels queued
// takeovers, opens the platform's microphone and holds what was said meanwhile (up to 2 s).
// Releasing flushes the last partial frame, sends eof and closes once everything has gone.
(function () {
  "use strict";

  var FRAME_QUEUE_LIMIT = 100; // 2 s of 20 ms frames waiting for the socket to open

  function Mic(panel) {
    this.panel = panel;
    this.button = panel.querySelector(".mic-hold");
    this.meter = panel.querySelector(".mic-meter");
    this.bar = panel.querySelector(".mic-meter span");
    this.status = panel.querySelector(".mic-status");
    this.audio = null; // {context, stream, node} once the microphone was granted
    this.starting = null;
    this.socket = null;
    this.pending = [];
    this.held = false;
    this.sentFrames = 0;
    this.bind();
  }

  Mic.prototype.say = function (state, words) {
    this.status.dataset.state = state;
    this.status.textContent = words;
  };

  Mic.prototype.level = function (peak) {
    // Peak to a 60 dB scale, so speech moves the bar and silence does not.
    var db = peak > 0 ? 20 * Math.log10(peak) : -60;
    var percent = Math.max(0, Math.min(100, Math.round(((db + 60) / 60) * 100)));
    this.bar.style.width = percent + "%";
    this.meter.setAttribute("aria-valuenow", String(percent));
  };

  Mic.prototype.refusal = function (error) {
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return "The browser offers no microphone on this page: push-to-talk needs HTTPS (or localhost).";
    }
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      return "The browser refused the microphone. Allow it for this site (the icon in the address bar) and hold again.";
    }
    if (name === "NotFoundError" || name === "OverconstrainedError") return "No microphone was found on this computer.";
    if (name === "NotReadableError") return "The microphone is in use by another program, or the system blocked it.";
    return "The microphone could not be opened: " + ((error && error.message) || error);
  };

  Mic.prototype.open = function () {
    var self = this;
    if (this.audio) return Promise.resolve(this.audio);
    if (this.starting) return this.starting;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return Promise.reject(new Error("no mediaDevices"));
    var constraints = { audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } };
    this.starting = navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
      var context = new AudioContext();
      return context.audioWorklet.addModule(self.panel.dataset.worklet).then(function () {
        var source = context.createMediaStreamSource(stream);
        var node = new AudioWorkletNode(context, "livedeck-mic", { numberOfOutputs: 1, outputChannelCount: [1] });
        var mute = context.createGain();
        mute.gain.value = 0; // the worklet must be pulled by the graph, but the host must not hear themself
        source.connect(node);
        node.connect(mute);
        mute.connect(context.destination);
        node.port.onmessage = function (event) { self.onWorklet(event.data); };
        self.audio = { context: context, stream: stream, node: node };
        return self.audio;
      });
    });
    this.starting.then(null, function () { self.starting = null; });
    return this.starting;
  };

  Mic.prototype.onWorklet = function (data) {
    if (data.flushed) {
      if (this.onFlushed) this.onFlushed();
      return;
    }
    this.level(this.held ? data.level : 0);
    if (!this.held && !this.onFlushed) return;
    var socket = this.socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(data.pcm);
      this.sentFrames += 1;
    } else if (socket && socket.readyState === WebSocket.CONNECTING && this.pending.length < FRAME_QUEUE_LIMIT) {
      this.pending.push(data.pcm);
    }
  };

  Mic.prototype.connect = function () {
    var self = this;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + this.panel.dataset.wsPath);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.pending = [];
    socket.onopen = function () {
      self.pending.forEach(function (pcm) { socket.send(pcm); self.sentFrames += 1; });
      self.pending = [];
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.state === "info" && !self.held) return;
      self.say(message.state, message.words);
      if (message.state === "error") self.release(true);
    };
    socket.onclose = function (event) {
      if (self.socket === socket) self.socket = null;
      if (self.held) {
        self.held = false;
        self.button.setAttribute("aria-pressed", "false");
        if (self.status.dataset.state !== "error") {
          self.say("error", "The connection to LiveDeck closed (" + event.code + "). Hold again to retry.");
        }
      }
    };
  };

  Mic.prototype.press = function () {
    var self = this;
    if (this.held || this.button.disabled) return;
    this.held = true;
    this.sentFrames = 0;
    this.button.setAttribute("aria-pressed", "true");
    this.say("connecting", "Opening the microphone…");
    this.open().then(function (audio) {
      if (!self.held) return;
      audio.context.resume();
      self.connect();
    }, function (error) {
      self.held = false;
      self.button.setAttribute("aria-pressed", "false");
      self.say("error", self.refusal(error));
    });
  };

  Mic.prototype.release = function (quiet) {
    var self = this;
    if (!this.held) return;
    this.held = false;
    this.button.setAttribute("aria-pressed", "false");
    this.level(0);
    var socket = this.socket;
    if (!socket) return;
    var finish = function () {
      self.onFlushed = null;
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ code: 99, message: "eof" }));
      var close = function () {
        if (socket.readyState !== WebSocket.OPEN || socket.bufferedAmount === 0) {
          socket.close(1000);
        } else {
          setTimeout(close, 20);
        }
      };
      if (socket.readyState === WebSocket.CONNECTING) {
        socket.addEventListener("open", function () { finish(); });
        return;
      }
      close();
      if (!quiet) {
        var seconds = (self.sentFrames * 0.02).toFixed(1);
        self.say("ended", "Sent " + seconds + " s of audio. Hold again to talk.");
      }
    };
    if (this.audio && !quiet) {
      this.onFlushed = finish;
      this.audio.node.port.postMessage({ flush: true });
    } else {
      finish();
    }
  };

  Mic.prototype.onAir = function (state) {
    var open = state === "creating" || state === "ready" || state === "live";
    this.panel.querySelector(".mic-controls").hidden = !open;
    this.panel.querySelector(".mic-off").hidden = open;
    this.button.disabled = state !== "ready" && state !== "live";
    if (this.button.disabled) this.release(true);
  };

  Mic.prototype.bind = function () {
    var self = this;
    var button = this.button;
    button.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      event.preventDefault();
      if (button.setPointerCapture) {
        try { button.setPointerCapture(event.pointerId); } catch (e) { /* a synthetic pointer */ }
      }
      self.press();
    });
    ["pointerup", "pointercancel", "lostpointercapture"].forEach(function (name) {
      button.addEventListener(name, function () { self.release(false); });
    });
    button.addEventListener("contextmenu", function (event) { event.preventDefault(); });
    function typing(target) {
      return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    }
    document.addEventListener("keydown", function (event) {
      if (event.code !== "Space" || event.repeat || typing(event.target)) return;
      event.preventDefault();
      self.press();
    });
    document.addEventListener("keyup", function (event) {
      if (event.code !== "Space" || typing(event.target)) return;
      event.preventDefault();
      self.release(false);
    });
    window.addEventListener("blur", function () { self.release(false); });
    // Follow the live state the console's socket pushes (the #room-live fragment).
    var watch = function () {
      var live = document.getElementById("room-live");
      if (live) self.onAir(live.dataset.state);
    };
    new MutationObserver(watch).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
    watch();
  };

  function start() {
    document.querySelectorAll("[data-mic]").forEach(function (panel) { new Mic(panel); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
