/* Helpers shared by the workshop pages: elements, the JSON API, number formats. */
"use strict";
var WS = (function () {
  function el(tag, attrs) {
    var node = document.createElement(tag);
    var a = attrs || {};
    Object.keys(a).forEach(function (k) {
      if (k === "text") node.textContent = a[k];
      else if (k === "class") node.className = a[k];
      else if (a[k] !== null && a[k] !== undefined && a[k] !== false) node.setAttribute(k, a[k] === true ? "" : a[k]);
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function api(method, url, body) {
    var opt = { method: method, headers: { "Accept": "application/json" } };
    if (body !== undefined) { opt.headers["Content-Type"] = "application/json"; opt.body = JSON.stringify(body); }
    return fetch(url, opt).then(function (r) {
      return r.json().catch(function () { return { error: "the server answered " + r.status }; }).then(function (d) {
        if (!r.ok) { var e = new Error(d.error || ("the server answered " + r.status)); e.status = r.status; throw e; }
        return d;
      });
    });
  }
  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "n/a";
    var a = Math.abs(v);
    if (a < 1e6 && a >= 1 && v === Math.round(v)) return v.toLocaleString("en-US");
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 1 : 2) + " M";
    if (a >= 1000) return Math.round(v).toLocaleString("en-US");
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    if (a >= 1) return v.toFixed(2);
    if (a === 0) return "0";
    return v.toPrecision(2);
  }
  function years(state, k) {
    var y = state.years_per_round;
    return (state.start + (k - 1) * y) + "\u2013" + (state.start + k * y);
  }
  function where(state) {
    var units = state.time_units || "year";
    if (state.status === "finished") return "Session ended after " + state.played + " of " + state.rounds + " rounds.";
    return "Round " + state.round + " of " + state.rounds + " (" + units + "s " + years(state, state.round) + ")" +
      (state.status === "locked" ? " \u2014 locked" : " \u2014 open for decisions");
  }
  function poll(fn, ms) {
    var busy = false;
    function tick() { if (busy) return; busy = true; Promise.resolve(fn()).catch(function () {}).then(function () { busy = false; }); }
    tick();
    return setInterval(tick, ms);
  }
  return { el: el, clear: clear, api: api, fmt: fmt, where: where, years: years, poll: poll };
})();
