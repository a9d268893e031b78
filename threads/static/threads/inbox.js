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
          if (el) { el.innerHTML = data.parts[id]; }
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
