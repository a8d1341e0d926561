/* The facilitator's home page: create a session, list the sessions in the state file. */
"use strict";
(function () {
  var list = document.getElementById("sessions"), msg = document.getElementById("message");
  var teams = document.getElementById("teams");
  function render(d) {
    if (!teams.value) teams.value = d.default_teams;
    WS.clear(list);
    if (!d.sessions.length) list.appendChild(WS.el("p", { "class": "note", text: "No session yet." }));
    var ul = WS.el("ul", { "class": "sessions" });
    d.sessions.slice().reverse().forEach(function (s) {
      var state = s.status === "finished" ? "ended" : "round " + s.round + " of " + s.rounds + " (" + s.status + ")";
      ul.appendChild(WS.el("li", {}, WS.el("a", { href: "/sessions/" + s.session, text: "Session " + s.session }),
        " \u2014 " + s.teams + " teams, " + state));
    });
    list.appendChild(ul);
    Object.keys(d.unavailable).forEach(function (k) {
      list.appendChild(WS.el("p", { "class": "note", text: d.unavailable[k] }));
    });
  }
  document.getElementById("create").addEventListener("submit", function (ev) {
    ev.preventDefault();
    msg.textContent = "Creating\u2026";
    WS.api("POST", "/api/sessions", { teams: parseInt(teams.value, 10) }).then(function (d) {
      window.location.href = "/sessions/" + d.session;
    }).catch(function (e) { msg.textContent = e.message; msg.className = "message error"; });
  });
  WS.api("GET", "/api/sessions").then(render).catch(function (e) { msg.textContent = e.message; });
})();
