/* The summary screen for the projector: round, who has decided, where each team stands. */
"use strict";
(function () {
  var sid = document.body.dataset.session;
  var last = "";
  function render(s) {
    var key = JSON.stringify(s);
    if (key === last) return;
    last = key;
    document.getElementById("heading").textContent = s.title;
    document.getElementById("where").textContent = WS.where(s);
    var cards = WS.clear(document.getElementById("teams"));
    s.teams.forEach(function (t) {
      cards.appendChild(WS.el("div", { "class": "team-card" + (t.decided ? " decided" : "") },
        WS.el("div", { "class": "name", text: "Team " + t.team }),
        WS.el("div", { "class": "state", text: s.status === "finished" ? "done" : t.decided ? "\u2713 decided" : "thinking\u2026" })));
    });
    var tab = WS.clear(document.getElementById("indicators"));
    var head = WS.el("tr", {}, WS.el("th", { text: "Year " + (s.start + s.played * s.years_per_round) }));
    s.teams.forEach(function (t) { head.appendChild(WS.el("th", { text: "Team " + t.team })); });
    tab.appendChild(head);
    s.indicators.forEach(function (ind) {
      var row = WS.el("tr", {}, WS.el("th", { text: ind.label }));
      s.teams.forEach(function (t) {
        var v = t.series[ind.name];
        row.appendChild(WS.el("td", { text: WS.fmt(v[v.length - 1]) }));
      });
      tab.appendChild(row);
    });
    var charts = WS.clear(document.getElementById("charts"));
    var marks = [];
    for (var k = 1; k < s.rounds; k++) marks.push(s.start + k * s.years_per_round);
    s.indicators.slice(0, 2).forEach(function (ind) {
      TSCharts.line(charts, { title: ind.label, units: ind.units, height: 320, marks: marks,
        xmax: s.start + s.rounds * s.years_per_round, legend: true,
        series: s.teams.map(function (t, i) {
          return { label: "Team " + t.team, x: t.series.time, y: t.series[ind.name], color: TSCharts.PALETTE[i % 10] };
        }) });
    });
  }
  WS.poll(function () { return WS.api("GET", "/api/sessions/" + sid).then(render); }, 3000);
})();
