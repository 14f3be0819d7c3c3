/* stask panel: small progressive enhancements. No inline handlers anywhere (strict CSP). */
(function () {
  "use strict";

  // Confirm dialogs for plain forms and buttons: data-confirm="Question?"
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var question = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Select-all checkbox for bulk actions (also after htmx swaps the table).
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.classList || !box.classList.contains("select-all")) { return; }
    var form = box.closest("form");
    if (!form) { return; }
    form.querySelectorAll("input[type=checkbox][name=ids]").forEach(function (item) {
      item.checked = box.checked;
    });
  });

  // Keep pushed URLs short: drop empty filter fields from htmx GET requests.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") { return; }
    var params = event.detail.parameters;
    var names = params instanceof FormData ? Array.from(params.keys()) : Object.keys(params);
    names.forEach(function (name) {
      var value = params instanceof FormData ? params.get(name) : params[name];
      if (value === "" || value === null) {
        if (params instanceof FormData) { params.delete(name); } else { delete params[name]; }
      }
    });
  });

  // Uploads to the JSON API: show its answer as text (never as HTML).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-upload") || !window.fetch) { return; }
    event.preventDefault();
    var status = form.querySelector(".upload-status");
    var token = form.querySelector("input[name=csrf_token]");
    var headers = token ? { "X-CSRF-Token": token.value } : {};
    fetch(form.action, { method: "POST", body: new FormData(form), headers: headers, credentials: "same-origin" })
      .then(function (response) { return response.json().catch(function () { return {}; }); })
      .then(function (body) {
        if (!status) { return; }
        if (body && body.success) {
          status.textContent = form.getAttribute("data-ok") || "OK";
          status.className = "upload-status ok";
          // The new file becomes a choice in this worker's run forms.
          window.setTimeout(function () { window.location.reload(); }, 700);
        } else {
          status.textContent = (body && body.error && body.error.message) || "Upload failed";
          status.className = "upload-status error";
        }
      })
      .catch(function () { if (status) { status.textContent = "Upload failed"; } });
  });

  // Show times in the reader's own time zone (the server writes UTC).
  function localTimes(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (node) {
      if (node.dataset.local) { return; }
      var date = new Date(node.getAttribute("datetime"));
      if (isNaN(date.getTime())) { return; }
      node.dataset.local = "1";
      var pad = function (n) { return String(n).padStart(2, "0"); };
      node.textContent = date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
        pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
    });
  }
  // Keep a task's log scrolled to its newest line.
  function followLog() {
    var pre = document.querySelector("#task-log pre");
    if (pre) { pre.scrollTop = pre.scrollHeight; }
  }
  // Wide tables scroll in their own box (.scroll-x): mark those that overflow, and whether they are
  // scrolled to the end, so the CSS can show a "scroll →" note where there is more to see.
  function markScroller(box) {
    if (box.scrollWidth <= box.clientWidth + 1) { box.removeAttribute("data-overflowing"); return; }
    var end = box.scrollLeft + box.clientWidth >= box.scrollWidth - 1;
    box.setAttribute("data-overflowing", end ? "end" : "true");
  }
  function markScrollers() { document.querySelectorAll(".scroll-x").forEach(markScroller); }
  document.addEventListener("scroll", function (event) {
    var box = event.target;
    if (box.classList && box.classList.contains("scroll-x")) { markScroller(box); }
  }, true);  // scroll does not bubble: listen in the capture phase
  window.addEventListener("resize", markScrollers);

  document.addEventListener("DOMContentLoaded", function () { localTimes(document); followLog(); markScrollers(); });
  document.addEventListener("htmx:afterSettle", function (event) { localTimes(event.target); followLog(); markScrollers(); });
})();
