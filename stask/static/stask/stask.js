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

  // Uploads to the JSON API. A file larger than one chunk goes in pieces (Content-Range and the
  // upload_id the first piece returned); a piece whose request failed is sent again, and a 409
  // with Upload-Offset (the server already has more, or less) resumes where the server's copy ends.
  var RETRIES = 3;
  function uploadFile(url, file, chunk, csrf, onProgress) {
    var headers = csrf ? { "X-CSRF-Token": csrf } : {};
    var offset = 0, uploadId = null, failures = 0;
    function fail(response, body) {
      var reason = (body && body.error && body.error.message) || ("HTTP " + response.status);
      return Promise.reject(new Error(reason));
    }
    function send() {
      var data = new FormData();
      var whole = file.size <= chunk;
      var end = whole ? file.size : Math.min(offset + chunk, file.size);
      var sent = Object.assign({}, headers);
      data.append("file", whole ? file : file.slice(offset, end), file.name);
      if (!whole) {
        sent["Content-Range"] = "bytes " + offset + "-" + (end - 1) + "/" + file.size;
        if (uploadId) { data.append("upload_id", uploadId); }
      }
      return fetch(url, { method: "POST", body: data, headers: sent, credentials: "same-origin" }).then(
        function (response) {
          return response.json().catch(function () { return {}; }).then(function (body) {
            if (response.status === 201) { onProgress(1); return body; }
            if (response.status === 202) {
              uploadId = body.upload_id;
              offset = body.received;
              failures = 0;
              onProgress(offset / file.size);
              return send();
            }
            var resume = response.headers.get("Upload-Offset");
            if (response.status === 409 && resume !== null && uploadId && failures < RETRIES) {
              failures += 1;
              offset = parseInt(resume, 10);
              return send();
            }
            return fail(response, body);
          });
        },
        function (error) {  // no answer (network): the same piece again, after a pause
          if (failures >= RETRIES) { return Promise.reject(error); }
          failures += 1;
          return new Promise(function (resolve) { window.setTimeout(resolve, 400 * failures); }).then(send);
        }
      );
    }
    return send();
  }
  function csrfOf(form) {
    var token = form && form.querySelector("input[name=csrf_token]");
    return token ? token.value : "";
  }
  function fill(text, name, value) {
    return String(text || "").replace("{" + name + "}", function () { return String(value); });
  }

  // A card's upload form: the answer as text (never as HTML), then a reload (the file becomes a choice).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-upload") || !window.fetch) { return; }
    event.preventDefault();
    var status = form.querySelector(".upload-status");
    var input = form.querySelector("input[type=file]");
    if (!input || !input.files.length) { return; }
    var chunk = parseInt(form.getAttribute("data-chunk"), 10) || Infinity;
    uploadFile(form.action, input.files[0], chunk, csrfOf(form), function () {})
      .then(function () {
        if (!status) { return; }
        status.textContent = form.getAttribute("data-ok") || "OK";
        status.className = "upload-status ok";
        window.setTimeout(function () { window.location.reload(); }, 700);
      })
      .catch(function (error) {
        if (!status) { return; }
        status.textContent = error.message || "Upload failed";
        status.className = "upload-status error";
      });
  });

  // A run form's file field: choosing a file uploads it (with progress) and selects it; Start
  // waits until the upload has finished.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("chunked-upload") || !input.files.length) { return; }
    var file = input.files[0];
    var form = input.closest("form");
    var select = document.getElementById(input.getAttribute("data-select"));
    var status = document.getElementById(input.id + "-status");
    var buttons = form ? form.querySelectorAll("button[type=submit]") : [];
    function show(text, kind) {
      if (!status) { return; }
      status.textContent = text;
      status.className = "upload-status" + (kind ? " " + kind : "");
    }
    var limit = parseInt(input.getAttribute("data-max"), 10);
    if (limit && file.size > limit) { show(input.getAttribute("data-text-too-large"), "error"); return; }
    var chunk = parseInt(input.getAttribute("data-chunk"), 10) || Infinity;
    buttons.forEach(function (button) { button.disabled = true; });
    input.disabled = true;
    show(fill(input.getAttribute("data-text-progress"), "percent", "0%"));
    uploadFile(input.getAttribute("data-url"), file, chunk, csrfOf(form), function (done) {
      show(fill(input.getAttribute("data-text-progress"), "percent", Math.floor(done * 100) + "%"));
    })
      .then(function (body) {
        var name = body.file.name;
        if (select) {
          var option = document.createElement("option");
          option.value = name;
          option.textContent = name;
          select.appendChild(option);
          select.value = name;
        }
        show(fill(input.getAttribute("data-text-done"), "name", name), "ok");
        input.value = "";
      })
      .catch(function (error) {
        show(fill(input.getAttribute("data-text-failed"), "reason", error.message || "?"), "error");
      })
      .then(function () {
        buttons.forEach(function (button) { button.disabled = false; });
        input.disabled = false;
      });
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
