// Console helpers: clocks that tick between server pushes, the live-link light, and toasts.
(function () {
  "use strict";

  function pad(n) { return String(n).padStart(2, "0"); }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var s = Math.max(0, Math.floor((now - Date.parse(el.dataset.since)) / 1000));
      el.textContent = pad(Math.floor(s / 3600)) + ":" + pad(Math.floor(s / 60) % 60) + ":" + pad(s % 60);
    });
    document.querySelectorAll("[data-until]").forEach(function (el) {
      var s = Math.floor((Date.parse(el.dataset.until) - now) / 1000);
      el.textContent = s <= 1 ? "due now" : "in " + (s < 120 ? s + " s" : Math.floor(s / 60) + " min");
    });
    document.querySelectorAll("[data-ago]").forEach(function (el) {
      var s = Math.max(0, Math.floor((now - Date.parse(el.dataset.ago)) / 1000));
      el.textContent = s < 2 ? "just now" : s < 120 ? s + " s ago" : Math.floor(s / 60) + " min ago";
    });
  }

  function toast(message) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var el = document.createElement("div");
    el.className = "toast";
    el.setAttribute("role", "alert");
    el.textContent = message;
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, 6000);
  }
  window.livedeckToast = toast;

  function link(state, label) {
    var el = document.getElementById("link");
    if (!el) return;
    el.className = "link-state " + state;
    el.querySelector(".label").textContent = label;
  }

  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail.xhr;
    var text = (xhr.getResponseHeader("Content-Type") || "").indexOf("text/plain") === 0 ? xhr.responseText : "";
    toast(text || "The server could not do that (" + xhr.status + "). Nothing was changed.");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("LiveDeck is not reachable. Check your connection; nothing was sent.");
  });
  document.addEventListener("htmx:wsOpen", function () { link("up", "Live updates on"); });
  document.addEventListener("htmx:wsClose", function () { link("down", "Reconnecting…"); });
  document.addEventListener("htmx:wsAfterMessage", tick);
  document.addEventListener("htmx:afterSwap", tick);

  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
