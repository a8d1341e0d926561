/* A team's page: join code, briefing, the decision form (bounds and budget checked here and on the server),
   and the team's indicators so far. */
"use strict";
(function () {
  var sid = document.body.dataset.session, team = document.body.dataset.team;
  var key = "trafficsys-code-" + sid + "-" + team;
  var params = new URLSearchParams(window.location.search);
  var code = params.get("code") || window.sessionStorage.getItem(key) || "";
  var state = null, formRound = null, last = "";
  var msg = document.getElementById("message");

  function say(text, bad) { msg.textContent = text; msg.className = "message" + (bad ? " error" : " ok"); }
  function showJoin(error) {
    document.getElementById("join").hidden = false;
    document.getElementById("play").hidden = true;
    document.getElementById("join-message").textContent = error || "";
  }
  document.getElementById("join-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    code = document.getElementById("code").value.trim().toUpperCase();
    if (!polling) load();
  });

  function load() {
    if (!code) { showJoin(""); return Promise.resolve(); }
    return WS.api("GET", "/api/sessions/" + sid + "/teams/" + team + "?code=" + encodeURIComponent(code)).then(function (s) {
      window.sessionStorage.setItem(key, code);
      document.getElementById("join").hidden = true;
      document.getElementById("play").hidden = false;
      render(s);
    }).catch(function (e) {
      if (e.status === 403) { window.sessionStorage.removeItem(key); code = ""; showJoin(e.message); }
      else say(e.message, true);
    });
  }

  function prefill(s) {
    var mine = s.decisions[String(s.round)] || s.decisions[String(s.round - 1)];
    var out = {};
    Object.keys(s.levers).forEach(function (n) { out[n] = mine ? mine.decisions[n] : s.levers[n]["default"]; });
    return out;
  }

  function buildForm(s) {
    var box = WS.clear(document.getElementById("levers"));
    var values = prefill(s);
    Object.keys(s.levers).forEach(function (n) {
      var lv = s.levers[n];
      var step = lv.step || "any";
      var range = WS.el("input", { type: "range", min: lv.min, max: lv.max, step: step, value: values[n], "aria-label": lv.label });
      var num = WS.el("input", { type: "number", min: lv.min, max: lv.max, step: step, value: values[n], name: n, id: "lever-" + n, required: true });
      range.addEventListener("input", function () { num.value = range.value; check(); });
      num.addEventListener("input", function () { if (num.value !== "") range.value = num.value; check(); });
      box.appendChild(WS.el("div", { "class": "lever" + (lv.spends ? " spends" : "") },
        WS.el("label", { "for": "lever-" + n, "class": "lever-label", text: lv.label }),
        range, num, WS.el("span", { "class": "units", text: lv.units || "" }),
        WS.el("span", { "class": "bounds", text: WS.fmt(lv.min) + "\u2013" + WS.fmt(lv.max) }),
        lv.help ? WS.el("p", { "class": "help", text: lv.help }) : null));
    });
    formRound = s.round + ":" + s.status;
    check();
  }

  function values() {
    var out = {};
    Object.keys(state.levers).forEach(function (n) {
      var v = document.getElementById("lever-" + n).value;
      out[n] = v === "" ? NaN : Number(v);
    });
    return out;
  }

  /* the same rules as the server (Workshop.check_decision); the server's answer is the one that counts */
  function problems(v) {
    var bad = [], spent = 0, spends = false;
    Object.keys(state.levers).forEach(function (n) {
      var lv = state.levers[n];
      if (!isFinite(v[n])) bad.push(lv.label + ": give a number");
      else if (v[n] < lv.min || v[n] > lv.max) bad.push(lv.label + ": between " + lv.min + " and " + lv.max);
      if (lv.spends) { spends = true; spent += isFinite(v[n]) ? v[n] : 0; }
    });
    var gap = state.budget - spent;
    if (spends && Math.abs(gap) > 1e-6 * state.budget) bad.push(gap > 0 ? "spend " + WS.fmt(gap) + " more" : "spend " + WS.fmt(-gap) + " less");
    return { bad: bad, spent: spent };
  }

  function check() {
    if (!state) return false;
    var p = problems(values());
    var b = document.getElementById("budget");
    b.textContent = "Budget: " + WS.fmt(p.spent) + " of " + WS.fmt(state.budget) + " " + state.budget_units + " allocated" +
      (p.bad.length ? " \u2014 " + p.bad.join("; ") : " \u2713");
    b.className = "budget" + (p.bad.length ? " error" : " ok");
    document.getElementById("submit").disabled = !!p.bad.length || state.status !== "open";
    return !p.bad.length;
  }

  function render(s) {
    state = s;
    var k = JSON.stringify([s.round, s.status, s.played, s.decisions]);
    if (k === last) return;
    last = k;
    document.getElementById("heading").textContent = s.title + " \u2014 Team " + s.team;
    document.getElementById("where").textContent = WS.where(s);
    var brief = WS.clear(document.getElementById("briefing"));
    s.briefing.split(/\n\s*\n/).forEach(function (para) { if (para.trim()) brief.appendChild(WS.el("p", { text: para })); });
    document.getElementById("briefing-box").open = s.played === 0;
    var heading = document.getElementById("form-heading");
    if (s.status === "finished") {
      heading.textContent = "The session has ended";
      WS.clear(document.getElementById("levers"));
      document.getElementById("budget").textContent = "";
      document.getElementById("submit").hidden = true;
      say("Thank you. The facilitator will show the debrief.");
    } else {
      heading.textContent = "Your decision for round " + s.round + " (years " + WS.years(s, s.round) + ")";
      if (formRound !== s.round + ":" + s.status) buildForm(s);
      document.getElementById("submit").hidden = false;
      var mine = s.decisions[String(s.round)];
      if (s.status === "locked") say("The facilitator has locked this round." + (mine ? " Your decision is in." : " Your last decision will be kept."), !mine);
      else if (mine && mine.source === "team") say("Your decision for round " + s.round + " is recorded. You can still change it.");
      else say("");
      check();
    }
    drawCharts(s);
  }

  function drawCharts(s) {
    var box = WS.clear(document.getElementById("charts"));
    var marks = [];
    for (var k = 1; k < s.rounds; k++) marks.push(s.start + k * s.years_per_round);
    s.indicators.forEach(function (ind) {
      TSCharts.line(box, { title: ind.label, units: ind.units, marks: marks, xmax: s.start + s.rounds * s.years_per_round,
        series: [{ label: "Team " + s.team, x: s.series.time, y: s.series[ind.name], color: TSCharts.PALETTE[(s.team - 1) % 10] }] });
    });
  }

  document.getElementById("decision").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!check()) return;
    var body = { round: state.round, code: code, decisions: values() };
    document.getElementById("submit").disabled = true;
    WS.api("POST", "/api/sessions/" + sid + "/teams/" + team + "/decisions", body).then(function (d) {
      say("Your decision for round " + d.round + " is recorded. You can still change it until the round is locked.");
      last = "";
      return load();
    }).catch(function (e) { say(e.message, true); }).then(check);
  });

  var polling = false;
  function startPolling() { if (!polling && code) { polling = true; WS.poll(load, 2000); } }
  if (!code) showJoin(""); else startPolling();
  document.getElementById("join-form").addEventListener("submit", function () { setTimeout(startPolling, 0); });
})();
