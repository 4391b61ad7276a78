// Cenports dashboard: live refresh, and nothing else. Regions of a page marked
// data-live="SECONDS" (each with an id) are read again from the same address every SECONDS
// while the tab is visible, and swapped in place: a sync's progress, orders arriving, a
// shipment written to the store. A region holding the keyboard focus is left alone, so
// nobody loses their place. Without JavaScript the pages are the same; reload to refresh.
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-live][id]");
  if (regions.length === 0) {
    return;
  }
  var seconds = 30;
  regions.forEach(function (region) {
    seconds = Math.min(seconds, Math.max(2, Number(region.dataset.live) || 30));
  });
  var busy = false;
  function refresh() {
    if (busy || document.visibilityState !== "visible") {
      return;
    }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } })
      .then(function (response) {
        // Signed out, or the page is gone: stop rather than paint the sign-in page in.
        if (!response.ok || response.redirected) {
          throw new Error("stop");
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live][id]").forEach(function (region) {
          var focused = document.activeElement;
          if (focused && focused !== document.body && region.contains(focused)) {
            return;
          }
          var replacement = fresh.getElementById(region.id);
          if (replacement && replacement.innerHTML !== region.innerHTML) {
            region.replaceWith(document.importNode(replacement, true));
          }
        });
        busy = false;
      })
      .catch(function () {
        window.clearInterval(timer);
      });
  }
  var timer = window.setInterval(refresh, seconds * 1000);
})();
