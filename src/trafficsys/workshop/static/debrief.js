/* The debrief: every team beside the reference strategies; loops that dominated; blocks; decisions.
   The exported file carries its data inline (#debrief-data) and fetches nothing. */
"use strict";
(function () {
  var sid = document.body.dataset.session;
  var inline = document.getElementById("debrief-data");
  var last = "";

  function color(run, i) { return run.kind === "team" ? TSCharts.PALETTE[i % 10] : TSCharts.REFERENCE[i % 5]; }
  function pct(x) { return (x < 0.1 ? (100 * x).toFixed(1) : Math.round(100 * x)) + "%"; }
  function status(a) {
    if (!a) return "not available";
    if (a.status === "pending") return "being computed\u2026";
    if (a.status === "later") return "shown when the session has ended";
    if (a.status === "off") return a.reason;
    if (a.status === "failed") return "could not be computed: " + a.error;
    return null;
  }

  function render(d) {
    var key = JSON.stringify(d);
    if (key === last) return;
    last = key;
    var teams = d.runs.filter(function (r) { return r.kind === "team"; });
    var refs = d.runs.filter(function (r) { return r.kind !== "team"; });
    var colors = {};
    teams.forEach(function (r, i) { colors[r.id] = color(r, i); });
    refs.forEach(function (r, i) { colors[r.id] = color(r, i); });
    document.getElementById("where").textContent = d.title + " \u2014 session " + d.session + ". " + WS.where(d) + " " +
      teams.length + " teams, " + refs.length + " reference strategies.";
    var pending = d.runs.some(function (r) { return r.dominance.status === "pending" || r.blocks.status === "pending"; });
    document.getElementById("progress").textContent = pending ? "Loop dominance and blocks are being computed; this page fills in as they finish." : "";

    /* final values */
    var fin = WS.clear(document.getElementById("finals"));
    var head = WS.el("tr", {}, WS.el("th", { text: "Run (year " + (d.start + (d.played || d.rounds) * d.years_per_round) + ")" }));
    d.indicators.forEach(function (ind) { head.appendChild(WS.el("th", { text: ind.label + (ind.better === "higher" ? " \u2191" : " \u2193") })); });
    fin.appendChild(head);
    var best = {};
    d.indicators.forEach(function (ind) {
      var vals = d.runs.map(function (r) { var s = r.series[ind.name]; return s[s.length - 1]; });
      best[ind.name] = ind.better === "higher" ? Math.max.apply(null, vals) : Math.min.apply(null, vals);
    });
    d.runs.forEach(function (r) {
      var row = WS.el("tr", { "class": r.kind }, WS.el("th", {}, WS.el("span", { "class": "swatch", "data-color": colors[r.id] }), r.label));
      d.indicators.forEach(function (ind) {
        var s = r.series[ind.name], v = s[s.length - 1];
        row.appendChild(WS.el("td", { "class": v === best[ind.name] ? "best" : "", text: WS.fmt(v) }));
      });
      fin.appendChild(row);
    });

    /* charts */
    var charts = WS.clear(document.getElementById("charts"));
    var marks = [];
    for (var k = 1; k < d.rounds; k++) marks.push(d.start + k * d.years_per_round);
    var end = d.start + (d.played || d.rounds) * d.years_per_round;
    charts.appendChild(TSCharts.legend(d.runs.map(function (r) { return { label: r.label, color: colors[r.id], dashed: r.kind !== "team" }; })));
    d.indicators.forEach(function (ind) {
      TSCharts.line(charts, { title: ind.label, units: ind.units, marks: marks, xmax: end, legend: false,
        series: d.runs.map(function (r) {
          return { label: r.label, x: r.series.time, y: r.series[ind.name], color: colors[r.id], dashed: r.kind !== "team" };
        }) });
    });

    /* questions, each with its loop's strength in every run */
    var qs = WS.clear(document.getElementById("questions"));
    d.questions.forEach(function (q) {
      var box = WS.el("div", { "class": "question" }, WS.el("p", { "class": "q", text: q.text }));
      if (q.loop) {
        box.appendChild(WS.el("p", { "class": "note" }, WS.el("strong", { text: "Loop " + q.loop + " (" + q.polarity + ")" }), ": " + q.doc));
        var row = WS.el("p", { "class": "strengths" });
        d.runs.forEach(function (r) {
          var st = r.dominance.named && r.dominance.named[q.loop];
          row.appendChild(WS.el("span", { "class": "strength" }, r.label + ": " +
            (st ? "#" + st.rank + " of " + r.dominance.loops + " loops (" + pct(st.strength) + " of the change" +
              (st.dominant ? ", dominant " + pct(st.dominant) + " of the time" : "") + ")" : (status(r.dominance) || "not scored"))));
        });
        box.appendChild(row);
      }
      qs.appendChild(box);
    });

    /* dominance per run */
    var dom = WS.clear(document.getElementById("dominance"));
    d.runs.forEach(function (r) {
      var box = WS.el("div", { "class": "run-box" }, WS.el("h3", { text: r.label }));
      var s = status(r.dominance);
      if (s) box.appendChild(WS.el("p", { "class": "note", text: s }));
      else {
        var ul = WS.el("ul", { "class": "periods" });
        r.dominance.periods.forEach(function (p) {
          ul.appendChild(WS.el("li", { title: p.variables }, WS.el("span", { "class": "when", text: "years " + p.start + "\u2013" + p.end + ": " }),
            WS.el("span", { "class": "pol " + p.polarity, text: p.polarity }), " " + p.name));
        });
        box.appendChild(ul);
      }
      dom.appendChild(box);
    });

    /* blocks per run */
    document.getElementById("blocks-note").textContent = d.blocks_enabled
      ? "What kept convictions from responding to the levers under each run's decisions (ts.find_blocks), most severe first."
      : "Not computed by this server.";
    var bl = WS.clear(document.getElementById("blocks"));
    d.runs.forEach(function (r) {
      var box = WS.el("div", { "class": "run-box" }, WS.el("h3", { text: r.label }));
      var s = status(r.blocks);
      if (s) box.appendChild(WS.el("p", { "class": "note", text: s }));
      else if (!r.blocks.blocks.length) box.appendChild(WS.el("p", { text: "No block holds in most sampled futures." }));
      else r.blocks.blocks.forEach(function (b) {
        box.appendChild(WS.el("div", { "class": "block" }, WS.el("strong", { text: b.title }),
          " \u2014 severity " + b.severity.toFixed(2) + ", holds in " + Math.round(100 * b.prevalence) + "% of futures",
          WS.el("p", { text: b.explanation })));
      });
      bl.appendChild(box);
    });

    /* decisions per team */
    var dec = WS.clear(document.getElementById("decisions"));
    teams.forEach(function (r) {
      var t = WS.el("table", { "class": "grid small" });
      var h = WS.el("tr", {}, WS.el("th", { text: r.label }));
      Object.keys(d.levers).forEach(function (n) { h.appendChild(WS.el("th", { text: d.levers[n].label })); });
      t.appendChild(h);
      r.decisions.forEach(function (x, i) {
        var row = WS.el("tr", {}, WS.el("th", { text: "Round " + (i + 1) }));
        Object.keys(d.levers).forEach(function (n) { row.appendChild(WS.el("td", { text: WS.fmt(x[n]) })); });
        t.appendChild(row);
      });
      dec.appendChild(WS.el("div", { "class": "scroll" }, t));
    });
    /* colour swatches (CSSOM, allowed by the page's policy) */
    Array.prototype.forEach.call(document.querySelectorAll(".swatch"), function (s) { s.style.background = s.dataset.color; });
    document.body.dataset.rendered = pending ? "partial" : "complete";
  }

  if (inline) render(JSON.parse(inline.textContent));
  else {
    var timer = WS.poll(function () {
      return WS.api("GET", "/api/sessions/" + sid + "/debrief").then(function (d) {
        render(d);
        if (d.complete) clearInterval(timer);
      });
    }, 3000);
  }
})();
