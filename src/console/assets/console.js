// The support console's only script: every few seconds it fetches the page
// again and swaps in its live part (#live), unless the person is typing in
// it or the tab is hidden. Without it the pages work the same, unrefreshed.
(function () {
  "use strict";
  var PERIOD_MS = 5000;

  function refresh() {
    var live = document.getElementById("live");
    if (!live || document.hidden) {
      return;
    }
    if (live.contains(document.activeElement) && document.activeElement !== document.body) {
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          throw new Error("no page");
        }
        return response.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("live");
        var current = document.getElementById("live");
        if (fresh && current) {
          current.replaceWith(document.importNode(fresh, true));
        }
      })
      .catch(function () {
        /* the next period tries again */
      });
  }

  window.setInterval(refresh, PERIOD_MS);
})();
