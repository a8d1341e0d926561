/* The facilitator's console: who has decided, lock, play the round, end; team links and codes. */
"use strict";
(function () {
  var sid = document.body.dataset.session, room = !!document.body.dataset.room;
  var msg = document.getElementById("message"), table = document.getElementById("teams");
  var state = null;
  function say(text, bad) { msg.textContent = text; msg.className = "message" + (bad ? " error" : ""); }
  function render(s) {
    state = s;
    document.getElementById("heading").textContent = "Session " + s.session;
    document.getElementById("where").textContent = WS.where(s);
    var open = s.status === "open", locked = s.status === "locked", done = s.status === "finished";
    document.getElementById("lock").disabled = !open;
    document.getElementById("unlock").disabled = !locked;
    var adv = document.getElementById("advance");
    adv.disabled = done;
    adv.textContent = done ? "All rounds played" : "Play round " + s.round;
    document.getElementById("end").disabled = done;
    document.getElementById("debrief-link").className = "button" + (done ? " primary" : "");
    document.getElementById("links-note").textContent = room
      ? "Teams open their link on this computer's network address (not 127.0.0.1) and type their join code."
      : "Each link carries its team's join code.";
    WS.clear(table);
    table.appendChild(WS.el("tr", {}, WS.el("th", { text: "Team" }), WS.el("th", { text: "Join code" }),
      WS.el("th", { text: "Page" }), WS.el("th", { text: done ? "Rounds played" : "Round " + s.round })));
    var decided = 0;
    s.teams.forEach(function (t) {
      var href = "/sessions/" + s.session + "/teams/" + t.team + (room || !t.code ? "" : "?code=" + t.code);
      var r = t.decisions[String(s.round)];
      if (t.decided) decided++;
      var cell = done ? String(s.played) : t.decided ? "\u2713 decided" + (r && r.submissions > 1 ? " (" + r.submissions + " times)" : "") : "waiting";
      table.appendChild(WS.el("tr", { "class": t.decided ? "decided" : "" },
        WS.el("td", { text: "Team " + t.team }), WS.el("td", { "class": "code", text: t.code || "" }),
        WS.el("td", {}, WS.el("a", { href: href, target: "_blank", rel: "noopener", "class": "team-link", text: href })),
        WS.el("td", { "class": "status", text: cell })));
    });
    if (!done) {
      adv.title = decided + " of " + s.teams.length + " teams have decided; the others keep their last decision";
      document.getElementById("where").textContent = WS.where(s) + " \u00b7 " + decided + " of " + s.teams.length + " teams decided";
    }
  }
  function refresh() { return WS.api("GET", "/api/sessions/" + sid).then(render).catch(function (e) { say(e.message, true); }); }
  function act(name, done) {
    return function () {
      say("\u2026");
      WS.api("POST", "/api/sessions/" + sid + "/" + name, {}).then(function (s) { render(s); say(done(s)); })
        .catch(function (e) { say(e.message, true); });
    };
  }
  document.getElementById("lock").addEventListener("click", act("lock", function (s) { return "Round " + s.round + " locked."; }));
  document.getElementById("unlock").addEventListener("click", act("unlock", function (s) { return "Round " + s.round + " reopened."; }));
  document.getElementById("advance").addEventListener("click", act("advance", function (s) {
    return s.status === "finished" ? "Last round played. Open the debrief." : "Round " + s.played + " played; round " + s.round + " is open.";
  }));
  document.getElementById("end").addEventListener("click", act("end", function () { return "Session ended. Open the debrief."; }));
  WS.poll(refresh, 1500);
})();
