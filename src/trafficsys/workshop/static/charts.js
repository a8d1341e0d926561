/* Line charts drawn as inline SVG, by the workshop itself (no charting library, nothing fetched). */
"use strict";
var TSCharts = (function () {
  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22"];
  var REFERENCE = ["#555555", "#a05a2c", "#2c6e49", "#5a3d8a", "#8a6d00"];

  function svg(tag, attrs) {
    var n = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    return n;
  }
  function ticks(lo, hi, count) {
    if (!(hi > lo)) { hi = lo + 1; }
    var raw = (hi - lo) / Math.max(count, 1);
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * p; }).filter(function (s) { return s >= raw; })[0];
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function short(v) {
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6) + "M";
    if (a >= 1e3) return (v / 1e3) + "k";
    return String(+v.toPrecision(3));
  }

  /* line(container, {title, units, series: [{label, x, y, color, dashed}], marks: [x], xmax, width, height}) */
  function line(container, opts) {
    /* the figure goes in first so the drawing can be made at the width it is shown: one unit of the
       viewBox is then one CSS pixel, and tick labels keep the size the style sheet gives them (a fixed
       560-unit drawing shrunk into a 340-pixel column drew them at 6-7 pixels) */
    var fig = document.createElement("figure");
    fig.className = "chart";
    container.appendChild(fig);
    var shown = Math.round(fig.getBoundingClientRect().width);
    var W = opts.width || (shown >= 200 ? shown : 560), H = opts.height || Math.max(180, Math.round(W * 0.46));
    var L = 58, R = 12, T = 10, B = 30;
    var series = (opts.series || []).filter(function (s) { return s.x && s.x.length; });
    var xs = [], ys = [];
    series.forEach(function (s) { xs = xs.concat(s.x); ys = ys.concat(s.y.filter(isFinite)); });
    var x0 = Math.min.apply(null, xs.length ? xs : [0]), x1 = opts.xmax !== undefined ? opts.xmax : Math.max.apply(null, xs.length ? xs : [1]);
    if (!(x1 > x0)) x1 = x0 + 1;
    var y0 = Math.min(0, Math.min.apply(null, ys.length ? ys : [0])), y1 = Math.max.apply(null, ys.length ? ys : [1]);
    if (!(y1 > y0)) y1 = y0 + 1;
    var yt = ticks(y0, y1 * 1.05, 4);
    y1 = Math.max(y1, yt[yt.length - 1]);
    function X(v) { return L + (v - x0) / (x1 - x0) * (W - L - R); }
    function Y(v) { return T + (1 - (v - y0) / (y1 - y0)) * (H - T - B); }
    var cap = document.createElement("figcaption");
    cap.textContent = opts.title + (opts.units ? " (" + opts.units + ")" : "");
    fig.appendChild(cap);
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": opts.title, "class": "chart-svg" });
    yt.forEach(function (v) {
      root.appendChild(svg("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), stroke: "#e3e3e3", "stroke-width": 1 }));
      var t = svg("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end", "class": "tick" });
      t.textContent = short(v);
      root.appendChild(t);
    });
    ticks(x0, x1, 6).forEach(function (v) {
      var t = svg("text", { x: X(v), y: H - B + 18, "text-anchor": "middle", "class": "tick" });
      t.textContent = short(v);
      root.appendChild(t);
    });
    (opts.marks || []).forEach(function (v) {
      if (v > x0 && v < x1) root.appendChild(svg("line", { x1: X(v), x2: X(v), y1: T, y2: H - B, stroke: "#bbbbbb", "stroke-dasharray": "2 3" }));
    });
    root.appendChild(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#888888" }));
    root.appendChild(svg("line", { x1: L, x2: L, y1: T, y2: H - B, stroke: "#888888" }));
    series.forEach(function (s) {
      var d = "";
      var n = 0;
      for (var i = 0; i < s.x.length; i++) {
        if (!isFinite(s.y[i]) || s.x[i] > x1 + 1e-9) continue;
        d += (n ? " L" : "M") + X(s.x[i]).toFixed(1) + " " + Y(s.y[i]).toFixed(1);
        n++;
      }
      if (n === 1) d += " l0.01 0";  /* a single point still shows (round caps) */
      var p = svg("path", { d: d, fill: "none", stroke: s.color, "stroke-width": s.dashed ? 2 : 2.5,
                            "stroke-linecap": "round", "class": "series", "data-points": n, "data-label": s.label });
      if (s.dashed) p.setAttribute("stroke-dasharray", "6 4");
      var title = svg("title", {});
      title.textContent = s.label;
      p.appendChild(title);
      root.appendChild(p);
    });
    fig.appendChild(root);
    if (opts.legend !== false && (series.length > 1 || opts.legend)) fig.appendChild(legend(series));
    return fig;
  }
  /* a legend for series [{label, color, dashed}] */
  function legend(series) {
    var leg = document.createElement("div");
    leg.className = "legend";
    series.forEach(function (s) {
      var item = document.createElement("span");
      var key = svg("svg", { width: 22, height: 10, "class": "key" });
      var kl = svg("line", { x1: 1, x2: 21, y1: 5, y2: 5, stroke: s.color, "stroke-width": 3 });
      if (s.dashed) kl.setAttribute("stroke-dasharray", "5 3");
      key.appendChild(kl);
      item.appendChild(key);
      item.appendChild(document.createTextNode(" " + s.label));
      leg.appendChild(item);
    });
    return leg;
  }
  return { line: line, legend: legend, PALETTE: PALETTE, REFERENCE: REFERENCE };
})();
