// propbridge console: live sections, confirmations and auto-submitting filters.
// Everything works without it; it only saves reloads.
(function () {
  "use strict";

  // A section marked data-refresh="N" is fetched again every N seconds while the tab is visible,
  // and replaced by the same section of the fresh page.
  function refresh(section) {
    var seconds = Number(section.getAttribute("data-refresh")) || 5;
    window.setTimeout(function tick() {
      if (document.hidden) { window.setTimeout(tick, seconds * 1000); return; }
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (response.redirected || !response.ok) { return null; }
          return response.text();
        })
        .then(function (html) {
          if (html) {
            var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(section.id);
            if (fresh) { section.innerHTML = fresh.innerHTML; }
          }
          window.setTimeout(tick, seconds * 1000);
        })
        .catch(function () { window.setTimeout(tick, seconds * 1000); });
    }, seconds * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(refresh);
    document.addEventListener("submit", function (event) {
      var message = event.target.getAttribute("data-confirm");
      if (message && !window.confirm(message)) { event.preventDefault(); }
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  });
})();
