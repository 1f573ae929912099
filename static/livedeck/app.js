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
  document.addEventListener("livedeckToast", function (e) { toast(e.detail.value); });
  // Picking a paragraph to rewrite fills the form with its current words.
  document.addEventListener("change", function (e) {
    var pick = e.target.closest("select[data-paragraphs]");
    if (!pick) return;
    var option = pick.selectedOptions[0], form = pick.form;
    form.querySelector("[name=title]").value = option ? option.dataset.title : "";
    form.querySelector("[name=text]").value = option ? option.dataset.text : "";
  });
  document.addEventListener("htmx:wsOpen", function () { link("up", "Live updates on"); });
  document.addEventListener("htmx:wsClose", function () { link("down", "Reconnecting…"); });
  document.addEventListener("htmx:wsAfterMessage", tick);
  document.addEventListener("htmx:afterSwap", tick);

  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();

// Takeover composer and queue.
(function () {
  "use strict";

  function csrf() { return document.querySelector("meta[name=csrf-token]").content; }

  // The vendor needs at least 10 characters of text.
  window.livedeckCount = function (form) {
    var area = form.querySelector("textarea[data-count]");
    if (!area) return;
    var n = area.value.trim().length, min = parseInt(area.dataset.count, 10);
    var count = form.querySelector(".count");
    count.querySelector(".n").textContent = n;
    count.classList.toggle("short", n > 0 && n < min);
    count.classList.toggle("ok", n >= min);
  };

  function showKind(form) {
    var kind = (form.querySelector("input[name=kind]:checked") || {}).value;
    form.querySelector(".when-text").hidden = kind === "audio";
    form.querySelector(".when-audio").hidden = kind !== "audio";
  }

  document.addEventListener("input", function (e) {
    var form = e.target.closest("#composer");
    if (form) { livedeckCount(form); showKind(form); }
  });
  document.addEventListener("change", function (e) {
    var form = e.target.closest("#composer");
    if (form) showKind(form);
  });

  // A push that arrives mid-drag would replace the list under the host's hand and lose the
  // drag: hold the latest one back until the row is dropped.
  var dragging = false, held = null;
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    if (!dragging || e.detail.target.id !== "takeovers") return;
    e.detail.shouldSwap = false;
    held = e.detail.fragment.firstElementChild.outerHTML;
  });
  function showHeld() {
    var html = held;
    held = null;
    if (html && document.getElementById("takeovers")) htmx.swap("#takeovers", html, { swapStyle: "outerHTML" });
  }

  // Drag to reorder: the position sent is the place in the vendor's queue (1 plays next).
  function sortable(root) {
    root.querySelectorAll("ol.sortable").forEach(function (list) {
      if (list._sortable || !window.Sortable) return;
      list._sortable = Sortable.create(list, {
        animation: 120, handle: ".grip", filter: ".pinned, .empty", preventOnFilter: false,
        onStart: function () { dragging = true; held = null; },
        onMove: function (e) { return !e.related.classList.contains("pinned"); },
        onEnd: function (e) {
          dragging = false;
          if (e.oldIndex === e.newIndex) return showHeld();
          // After a move the server pushes the vendor's new order; what was held is older.
          held = null;
          var url = list.dataset.moveUrl.replace("/0/move/", "/" + e.item.dataset.id + "/move/");
          var body = new URLSearchParams({ position: String(e.newIndex) });
          fetch(url, { method: "POST", body: body, headers: { "X-CSRFToken": csrf() } }).then(function (r) {
            if (!r.ok) return r.text().then(function (t) { window.livedeckToast(t || "The queue was not reordered."); });
          });
        },
      });
    });
  }
  document.addEventListener("htmx:load", function (e) { sortable(e.detail.elt.parentElement || document); });
  document.addEventListener("htmx:wsAfterMessage", function () { sortable(document); });
  document.addEventListener("DOMContentLoaded", function () { sortable(document); });
})();
