// propbridge console: live sections, confirmations and auto-submitting filters.
// Everything works without it; it only saves reloads.
(function () {
  "use strict";

  function sessionEnded(section) {
    var notice = document.createElement("p");
    notice.className = "flash";
    notice.setAttribute("role", "status");
    notice.id = "session-ended";
    notice.innerHTML = 'Your session has ended: this page no longer updates. <a href="/console/sign-in">Sign in again</a>.';
    section.parentNode.insertBefore(notice, section);
  }

  // A section marked data-refresh="N" is fetched again every N seconds while the tab is
  // visible, and replaced by the same section of the fresh page when that differs and nobody
  // is using a field in it. A redirect (the session ended) is not followed: it stops.
  function refresh(section) {
    var seconds = Number(section.getAttribute("data-refresh")) || 5;
    function later() { window.setTimeout(tick, seconds * 1000); }
    function tick() {
      if (document.hidden) { later(); return; }
      fetch(window.location.href, {
        credentials: "same-origin", redirect: "manual",
        headers: { "Accept": "text/html", "X-Console-Refresh": "1" }
      })
        .then(function (response) {
          if (response.type === "opaqueredirect" || response.status === 0) {
            sessionEnded(section);
            return undefined;
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html === undefined) { return; }
          if (html) {
            var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(section.id);
            var busy = section.contains(document.activeElement) &&
              /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
            if (fresh && !busy && fresh.innerHTML !== section.innerHTML) {
              section.innerHTML = fresh.innerHTML;
            }
          }
          later();
        })
        .catch(later);
    }
    later();
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
