/* objectstore console: copy buttons and the uploader. No inline script anywhere (CSP);
   listeners are delegated on document, so they survive htmx page swaps. */
(function () {
  "use strict";
  var PART_SIZE = 8 * 1024 * 1024;        // multipart part size
  var MULTIPART_FROM = 16 * 1024 * 1024;  // files above this go in parts

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  // -- copy buttons ------------------------------------------------------------------------
  function copyText(text, button) {
    function done() {
      var old = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = old; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  }
  function fallback(text) {
    var t = document.createElement("textarea");
    t.value = text; t.setAttribute("readonly", ""); t.className = "offscreen";
    document.body.appendChild(t); t.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(t);
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button.copy") : null;
    if (!b) return;
    var el = document.getElementById(b.getAttribute("data-copy-from"));
    if (!el) return;
    copyText(el.tagName === "INPUT" || el.tagName === "TEXTAREA" ? el.value : el.textContent, b);
  });

  // -- confirmations before destructive actions --------------------------------------------
  // A form with data-confirm="message" opens a modal <dialog> before it is sent; with
  // data-confirm-type="word" the person must type that word first (actions that cannot be
  // undone). Cancel (or Escape) sends nothing. Runs in the capture phase, before htmx's boost.
  var confirmed = null;
  function selectedCount(form) {
    return form.querySelectorAll('input[type="checkbox"][name="key"]:checked').length;
  }
  function askFirst(form, submitter) {
    var n = selectedCount(form);
    if (form.hasAttribute("data-confirm-count") && n === 0) {
      return ask(form, submitter, "Select at least one object first.", null, null);
    }
    var msg = (form.getAttribute("data-confirm") || "").replace("{n}", String(n))
      .replace("{s}", n === 1 ? "" : "s");
    ask(form, submitter, msg, form.getAttribute("data-confirm-type"),
        form.getAttribute("data-confirm-button") || "Delete");
  }
  function ask(form, submitter, msg, word, label) {
    var old = document.getElementById("confirm-dialog");
    if (old) old.parentNode.removeChild(old);
    var d = document.createElement("dialog");
    d.id = "confirm-dialog"; d.className = "confirm";
    d.setAttribute("aria-labelledby", "confirm-title");
    var f = document.createElement("form"); f.method = "dialog";
    var h = document.createElement("h2"); h.id = "confirm-title";
    h.textContent = label ? "Are you sure?" : "Nothing selected";
    var p = document.createElement("p"); p.id = "confirm-message"; p.textContent = msg;
    d.setAttribute("aria-describedby", "confirm-message");
    f.appendChild(h); f.appendChild(p);
    var input = null;
    var actions = document.createElement("div"); actions.className = "row-actions end";
    var cancel = document.createElement("button"); cancel.type = "submit"; cancel.value = "cancel";
    cancel.textContent = label ? "Cancel" : "OK"; cancel.id = "confirm-cancel";
    actions.appendChild(cancel);
    var ok = null;
    if (label) {
      if (word) {
        var l = document.createElement("label"); l.setAttribute("for", "confirm-word");
        l.textContent = "This cannot be undone. Type " + word + " to confirm";
        input = document.createElement("input"); input.id = "confirm-word";
        input.autocomplete = "off"; input.setAttribute("spellcheck", "false");
        f.appendChild(l); f.appendChild(input);
      }
      ok = document.createElement("button"); ok.type = "submit"; ok.value = "ok";
      ok.className = "danger"; ok.textContent = label; ok.id = "confirm-ok";
      if (input) {
        ok.disabled = true;
        input.addEventListener("input", function () { ok.disabled = input.value !== word; });
      }
      actions.appendChild(ok);
    }
    f.appendChild(actions); d.appendChild(f);
    document.body.appendChild(d);
    d.addEventListener("close", function () {
      var go = ok && d.returnValue === "ok" && (!input || input.value === word);
      d.parentNode && d.parentNode.removeChild(d);
      if (!go) { (submitter || form.querySelector("button")).focus(); return; }
      confirmed = form;
      if (form.requestSubmit) form.requestSubmit(submitter || undefined); else form.submit();
    });
    d.showModal();
    (input || cancel).focus();
  }
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.hasAttribute || !form.hasAttribute("data-confirm")) return;
    if (confirmed === form) { confirmed = null; return; }
    ev.preventDefault(); ev.stopImmediatePropagation();
    askFirst(form, ev.submitter || null);
  }, true);

  // -- select all ---------------------------------------------------------------------------
  function syncSelectAll(table) {
    var all = table.querySelector("input.select-all");
    if (!all) return;
    var boxes = table.querySelectorAll('tbody input[type="checkbox"][name="key"]');
    var on = 0;
    Array.prototype.forEach.call(boxes, function (b) { if (b.checked) on++; });
    all.checked = boxes.length > 0 && on === boxes.length;
    all.indeterminate = on > 0 && on < boxes.length;
    var out = document.getElementById("selected-count");
    if (out) out.textContent = on + " selected";
  }
  document.addEventListener("change", function (ev) {
    var t = ev.target, table = t.closest ? t.closest("table") : null;
    if (!table) return;
    if (t.classList.contains("select-all")) {
      Array.prototype.forEach.call(
        table.querySelectorAll('tbody input[type="checkbox"][name="key"]'),
        function (b) { b.checked = t.checked; });
    }
    syncSelectAll(table);
  });

  // -- sortable columns ---------------------------------------------------------------------
  // A header's <button class="sort" data-col="N" data-type="text|number"> sorts the rows
  // of this page by that column (folders stay first); a second click reverses.
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button.sort") : null;
    if (!b) return;
    var th = b.closest("th"), table = b.closest("table"), body = table.tBodies[0];
    var col = Number(b.getAttribute("data-col")), numeric = b.getAttribute("data-type") === "number";
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(table.querySelectorAll("th[aria-sort]"), function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    function val(r) {
      var c = r.cells[col], v = c ? (c.getAttribute("data-sort") || c.textContent.trim()) : "";
      return numeric ? Number(v) || 0 : v.toLowerCase();
    }
    rows.sort(function (a, c) {
      var fa = a.classList.contains("folder") ? 0 : 1, fc = c.classList.contains("folder") ? 0 : 1;
      if (fa !== fc) return fa - fc;
      var x = val(a), y = val(c);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });

  // -- the upload button opens the file picker ---------------------------------------------
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("button[data-pick]") : null;
    if (!b) return;
    var input = document.getElementById(b.getAttribute("data-pick"));
    if (input) input.click();
  });

  // -- uploads -----------------------------------------------------------------------------
  function send(method, url, body, headers, onProgress) {
    return new Promise(function (resolve, reject) {
      var x = new XMLHttpRequest();
      x.open(method, url);
      x.setRequestHeader("X-CSRF-Token", csrf());
      Object.keys(headers || {}).forEach(function (h) { x.setRequestHeader(h, headers[h]); });
      if (onProgress) x.upload.onprogress = function (e) { onProgress(e.loaded); };
      x.onload = function () {
        var data = {};
        try { data = JSON.parse(x.responseText); } catch (e) { data = {}; }
        if (x.status >= 200 && x.status < 300) resolve(data);
        else reject(new Error(data.error || ("upload failed: HTTP " + x.status)));
      };
      x.onerror = function () { reject(new Error("the connection failed")); };
      x.send(body);
    });
  }

  function row(list, key, size) {
    var li = document.createElement("li");
    var name = document.createElement("span"); name.className = "name"; name.textContent = key;
    var bar = document.createElement("progress"); bar.max = size || 1; bar.value = 0;
    bar.setAttribute("aria-label", "Upload progress of " + key);
    var status = document.createElement("span"); status.className = "status";
    status.textContent = "waiting";
    li.appendChild(name); li.appendChild(bar); li.appendChild(status);
    list.appendChild(li);
    return { li: li, bar: bar, status: status };
  }

  function uploadOne(base, key, file, ui) {
    var q = "?key=" + encodeURIComponent(key);
    var type = { "X-Object-Content-Type": file.type || "application/octet-stream" };
    ui.status.textContent = "uploading";
    if (file.size <= MULTIPART_FROM) {
      return send("PUT", base + "/upload" + q, file, type, function (n) { ui.bar.value = n; });
    }
    var uploadId, parts = [], sent = 0;
    return send("POST", base + "/multipart" + q, null, type).then(function (r) {
      uploadId = r.upload_id;
      var chain = Promise.resolve();
      var count = Math.ceil(file.size / PART_SIZE);
      for (var i = 0; i < count; i++) {
        (function (n) {
          chain = chain.then(function () {
            var blob = file.slice(n * PART_SIZE, Math.min(file.size, (n + 1) * PART_SIZE));
            var url = base + "/multipart/part" + q + "&upload_id=" +
              encodeURIComponent(uploadId) + "&number=" + (n + 1);
            return send("PUT", url, blob, {}, function (loaded) {
              ui.bar.value = sent + loaded;
            }).then(function (p) { parts.push([n + 1, p.etag]); sent += blob.size; });
          });
        })(i);
      }
      return chain;
    }).then(function () {
      ui.status.textContent = "finishing";
      return send("POST", base + "/multipart/complete" + q + "&upload_id=" +
        encodeURIComponent(uploadId), JSON.stringify({ parts: parts }),
        { "Content-Type": "application/json" });
    }).catch(function (err) {
      if (uploadId) {
        send("POST", base + "/multipart/abort" + q + "&upload_id=" +
          encodeURIComponent(uploadId), null, {}).catch(function () { /* best effort */ });
      }
      throw err;
    });
  }

  function uploadAll(entries) {
    var box = document.getElementById("uploader");
    if (!box || !entries.length) return;
    var base = box.getAttribute("data-base"), prefix = box.getAttribute("data-prefix") || "";
    var list = document.getElementById("upload-list");
    var chain = Promise.resolve(), failed = 0;
    entries.forEach(function (e) {
      var key = prefix + e.path;
      var ui = row(list, key, e.file.size);
      chain = chain.then(function () {
        return uploadOne(base, key, e.file, ui).then(function () {
          ui.bar.value = ui.bar.max; ui.status.textContent = "done";
          ui.li.className = "done";
        }, function (err) {
          failed++; ui.status.textContent = "failed: " + err.message;
          ui.li.className = "failed"; ui.status.setAttribute("role", "alert");
        });
      });
    });
    chain.then(function () {
      if (window.htmx) {
        window.htmx.ajax("GET", window.location.href,
          { target: "#listing", select: "#listing", swap: "outerHTML" });
      }
      list.setAttribute("data-finished", failed ? "with-errors" : "ok");
    });
  }

  function fromInput(input) {
    return Array.prototype.map.call(input.files, function (f) {
      return { file: f, path: f.webkitRelativePath || f.name };
    });
  }

  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t.id === "upload-files" || t.id === "upload-folder") {
      uploadAll(fromInput(t));
      t.value = "";
    }
  });

  function walk(entry, path, out) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (f) { out.push({ file: f, path: path + f.name }); resolve(); },
          function () { resolve(); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader(), all = [];
        var more = function () {
          reader.readEntries(function (batch) {
            if (!batch.length) {
              Promise.all(all.map(function (c) {
                return walk(c, path + entry.name + "/", out);
              })).then(resolve);
            } else { all = all.concat(Array.prototype.slice.call(batch)); more(); }
          }, function () { resolve(); });
        };
        more();
      } else { resolve(); }
    });
  }

  document.addEventListener("dragover", function (ev) {
    if (ev.target.closest && ev.target.closest("[data-drop]")) {
      ev.preventDefault(); ev.target.closest("[data-drop]").classList.add("over");
    }
  });
  document.addEventListener("dragleave", function (ev) {
    var z = ev.target.closest ? ev.target.closest("[data-drop]") : null;
    if (z) z.classList.remove("over");
  });
  document.addEventListener("drop", function (ev) {
    var z = ev.target.closest ? ev.target.closest("[data-drop]") : null;
    if (!z) return;
    ev.preventDefault(); z.classList.remove("over");
    var items = ev.dataTransfer.items, out = [], waits = [];
    var files = Array.prototype.slice.call(ev.dataTransfer.files || []);  // before it empties
    var plain = function (list) {
      return Array.prototype.map.call(list, function (f) { return { file: f, path: f.name }; });
    };
    if (items && items.length && items[0].webkitGetAsEntry) {
      Array.prototype.forEach.call(items, function (it) {
        var entry = it.webkitGetAsEntry();
        if (entry) waits.push(walk(entry, "", out));
      });
      Promise.all(waits).then(function () {
        if (!out.length && files.length) out = plain(files);  // no entries (e.g. synthetic)
        uploadAll(out);
      });
    } else {
      uploadAll(Array.prototype.map.call(ev.dataTransfer.files, function (f) {
        return { file: f, path: f.name };
      }));
    }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.target.id === "dropzone" && (ev.key === "Enter" || ev.key === " ")) {
      ev.preventDefault();
      var input = document.getElementById("upload-files");
      if (input) input.click();
    }
  });
})();
