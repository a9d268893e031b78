/* Brenda's staff inbox: ask the server every few seconds whether the page changed, and swap in
   the parts it rendered. No framework, no build step; loaded with the page's CSP nonce.
   The element with data-poll-url names the JSON endpoint; the JSON maps element ids to HTML. */
(function () {
  "use strict";
  var root = document.querySelector("[data-poll-url]");
  if (!root || !window.fetch) { return; }
  var version = root.dataset.version;
  var interval = parseInt(root.dataset.interval, 10) || 3000;
  var scroller = root.dataset.scroll ? document.getElementById(root.dataset.scroll) : null;

  function nearBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 80; }
  function toBottom() { if (scroller) { scroller.scrollTop = scroller.scrollHeight; } }

  // The reply box and the action buttons are refreshed parts too: what staff typed or chose
  // there must survive a swap. Fields they changed are carried into the new part by name (with
  // the caret); a part whose typed text the new one has no field for is left as it is for now.
  var FIELDS = "textarea[name], select[name], input[name]:not([type=hidden]):not([type=submit])";

  function edited(field) {
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    return field.value !== field.defaultValue;
  }

  function swap(el, html) {
    var kept = {};
    var lost = false;
    var focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement : null;
    el.querySelectorAll(FIELDS).forEach(function (field) {
      if (edited(field)) { kept[field.name] = field; }
    });
    var holder = document.createElement("div");
    holder.innerHTML = html;
    Object.keys(kept).forEach(function (name) {
      if (!holder.querySelector("[name='" + name + "']") && kept[name].value.trim()) { lost = true; }
    });
    if (lost) { return; }
    el.innerHTML = html;
    Object.keys(kept).forEach(function (name) {
      var field = el.querySelector("[name='" + name + "']");
      if (field) { field.value = kept[name].value; }
    });
    if (focused && focused.name) {
      var again = el.querySelector("[name='" + focused.name + "']");
      if (again) {
        again.focus();
        if (typeof focused.selectionStart === "number" && again.setSelectionRange) {
          try { again.setSelectionRange(focused.selectionStart, focused.selectionEnd); } catch (e) { /* not text */ }
        }
      }
    }
  }

  function poll() {
    var url = new URL(root.dataset.pollUrl, window.location.href);
    url.searchParams.set("version", version);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || !data.changed) { return; }
        var stick = scroller ? nearBottom(scroller) : false;
        Object.keys(data.parts).forEach(function (id) {
          var el = document.getElementById(id);
          if (el) { swap(el, data.parts[id]); }
        });
        version = data.version;
        root.dataset.version = version;
        if (stick) { toBottom(); }
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .finally(function () { window.setTimeout(poll, document.hidden ? interval * 4 : interval); });
  }
  toBottom();
  window.setTimeout(poll, interval);
})();
