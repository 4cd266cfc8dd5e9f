// The delivery board updates itself: it asks the page's own JSON of the board every few seconds and rewrites
// each row's status, response and note. Without JavaScript the page's refresh link does the same.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || !window.fetch) { return; }
  var source = board.getAttribute("data-source");
  var counts = document.getElementById("board-counts");
  var template = counts ? counts.getAttribute("data-template") : null;
  function update(data) {
    data.rows.forEach(function (row) {
      var tr = document.getElementById("circular-" + row.id);
      if (!tr) { return; }
      if (tr.getAttribute("data-status") !== row.status) {
        tr.setAttribute("data-status", row.status);
        var status = tr.querySelector("[data-field=status_text]");
        status.className = "status circular-" + row.status;
        status.textContent = row.status_text;
        var retry = tr.querySelector("form");
        if (retry && row.status !== "failed") { retry.hidden = true; }
      }
      ["response", "note"].forEach(function (field) {
        var cell = tr.querySelector("[data-field=" + field + "]");
        if (cell && cell.textContent !== row[field]) { cell.textContent = row[field]; }
      });
    });
    if (counts && data.counts_text && counts.textContent !== data.counts_text) { counts.textContent = data.counts_text; }
  }
  function poll() {
    fetch(source, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (data) { if (data) { update(data); } })
      .catch(function () {})
      .then(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
}());
