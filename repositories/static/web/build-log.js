// Live build log: while the build runs, fetch the entries after the ones shown (?start=N) and
// append them; stop when the API reports a finished phase.
(function () {
  "use strict";
  var log = document.getElementById("build-log");
  if (!log || log.dataset.finished === "1") { return; }
  var phase = document.getElementById("build-phase");
  var start = parseInt(log.dataset.total, 10) || 0;
  var finished = ["complete", "error", "cancelled"];
  function poll() {
    fetch(log.dataset.logsUrl + "?start=" + start, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (body) {
        body.logs.forEach(function (entry) {
          log.appendChild(document.createTextNode(entry.type === "phase" ? "== " + entry.message + " ==\n" : entry.message + "\n"));
        });
        start = body.total;
        if (phase && body.phase) { phase.textContent = body.phase; }
        if (finished.indexOf(body.phase) === -1) { setTimeout(poll, 2000); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
