// Baraza staff dashboard: the live audience size while composing a broadcast, and the live
// progress of a broadcast being sent. Everything works without this script (the preview
// button shows the size; reloading shows the progress).
"use strict";

(function () {
  function audienceCount() {
    var form = document.getElementById("compose");
    var target = document.getElementById("audience-size");
    if (!form || !target) return;
    var url = target.getAttribute("data-url");
    var pending = null;
    function update() {
      var params = new URLSearchParams();
      form.querySelectorAll("#audience input[type=checkbox]:checked").forEach(function (box) {
        params.append(box.name, box.value);
      });
      fetch(url + "?" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) return;
          target.textContent = "";
          target.appendChild(document.createTextNode("Audience: "));
          var strong = document.createElement("strong");
          strong.id = "audience-count";
          strong.textContent = String(data.size);
          target.appendChild(strong);
          target.appendChild(document.createTextNode(
            " " + (data.size === 1 ? "person" : "people") + " (" + data.description + ")"));
          var list = document.getElementById("reach-list");
          if (list && Array.isArray(data.reach)) {
            list.textContent = "";
            data.reach.forEach(function (line) {
              var item = document.createElement("li");
              item.textContent = String(line);
              list.appendChild(item);
            });
          }
        })
        .catch(function () { /* the preview button still shows the size */ });
    }
    form.addEventListener("change", function (event) {
      if (event.target && event.target.closest && event.target.closest("#audience")) {
        clearTimeout(pending);
        pending = setTimeout(update, 150);
      }
    });
  }

  function broadcastProgress() {
    var section = document.getElementById("progress-section");
    if (!section || section.getAttribute("data-finished") === "yes") return;
    var url = section.getAttribute("data-url");
    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) return;
          var bar = document.getElementById("progress-bar");
          bar.max = Math.max(1, data.recipients);
          bar.value = data.done;
          bar.textContent = String(data.done);
          document.getElementById("progress-text").textContent =
            data.done + " of " + data.recipients + (data.finished ? ": finished" : "");
          document.getElementById("broadcast-status").textContent = data.status;
          Object.keys(data.counts).forEach(function (name) {
            var cell = section.querySelector('td[data-status="' + name + '"]');
            if (cell) cell.textContent = String(data.counts[name]);
          });
          if (data.finished) {
            var cancel = document.getElementById("cancel-form");
            if (cancel) cancel.hidden = true;  // nothing is waiting any more
          } else {
            setTimeout(poll, 2000);
          }
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    audienceCount();
    broadcastProgress();
  });
})();
