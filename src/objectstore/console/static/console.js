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
    copyText(el.value !== undefined && el.tagName === "INPUT" ? el.value : el.textContent, b);
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
    if (ev.target.closest && ev.target.closest("#dropzone")) {
      ev.preventDefault(); ev.target.closest("#dropzone").classList.add("over");
    }
  });
  document.addEventListener("dragleave", function (ev) {
    var z = ev.target.closest ? ev.target.closest("#dropzone") : null;
    if (z) z.classList.remove("over");
  });
  document.addEventListener("drop", function (ev) {
    var z = ev.target.closest ? ev.target.closest("#dropzone") : null;
    if (!z) return;
    ev.preventDefault(); z.classList.remove("over");
    var items = ev.dataTransfer.items, out = [], waits = [];
    if (items && items.length && items[0].webkitGetAsEntry) {
      Array.prototype.forEach.call(items, function (it) {
        var entry = it.webkitGetAsEntry();
        if (entry) waits.push(walk(entry, "", out));
      });
      Promise.all(waits).then(function () { uploadAll(out); });
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
