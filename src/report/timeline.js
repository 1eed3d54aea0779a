// The report's timeline: draws the ops embedded in #timeline-data on a canvas, only the
// lanes and time span in view, and shows the op under the pointer.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("timeline-data").textContent);
  var box = document.getElementById("timeline-box");
  var canvas = document.getElementById("timeline-canvas");
  var tip = document.getElementById("timeline-tip");
  var status = document.getElementById("timeline-status");
  var ctx = canvas.getContext("2d");
  var COLORS = ["#2e9d4f", "#d9534f", "#e6a23c", "#9e9e9e"];
  var KINDS = ["ok", "fail", "info", "never completed"];
  var LANE_H = 16, AXIS_H = 24, LABEL_W = 80;
  var n = data.lane.length;
  var dur = Math.max(data.dur, 1);
  // Ops of each lane in start order; a process does one op at a time, so their ends are
  // in order too and a binary search finds the first op in view.
  var lanes = data.lanes.map(function () { return []; });
  var end = new Float64Array(n);
  for (var i = 0; i < n; i++) {
    lanes[data.lane[i]].push(i);
    end[i] = data.e[i] < 0 ? dur : data.e[i];
  }
  var view = { start: 0, end: dur, top: 0 };
  var width = 0, height = 0;

  function resize() {
    var dpr = window.devicePixelRatio || 1;
    width = Math.max(box.clientWidth, 300);
    height = Math.min(AXIS_H + lanes.length * LANE_H + 4, 640);
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  function xOf(t) { return LABEL_W + (t - view.start) / (view.end - view.start) * (width - LABEL_W); }
  function tOf(x) { return view.start + (x - LABEL_W) / (width - LABEL_W) * (view.end - view.start); }
  function firstEndingAfter(list, t) {
    var lo = 0, hi = list.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (end[list[mid]] < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  function niceStep(span, ticks) {
    var raw = Math.max(span / ticks, 1e-9);
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10) * mag;
  }
  function seconds(us) { return (us / 1e6).toFixed(us < 1e7 ? 3 : 1); }
  function visibleLanes() { return Math.ceil((height - AXIS_H) / LANE_H); }

  function draw() {
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "middle";
    // Fault bands.
    for (var f = 0; f < data.faults.length; f++) {
      var w = data.faults[f];
      var fx0 = Math.max(xOf(w[0]), LABEL_W), fx1 = Math.min(xOf(w[1]), width);
      if (fx1 < LABEL_W || fx0 > width) continue;
      ctx.fillStyle = "rgba(110,110,110,0.18)";
      ctx.fillRect(fx0, AXIS_H, Math.max(fx1 - fx0, 1), height - AXIS_H);
    }
    // Time axis.
    var step = niceStep(view.end - view.start, 8);
    ctx.fillStyle = "#333";
    ctx.strokeStyle = "#ccc";
    for (var t = Math.ceil(view.start / step) * step; t <= view.end; t += step) {
      var tx = xOf(t);
      ctx.fillText(seconds(t) + " s", tx + 2, 10);
      ctx.beginPath(); ctx.moveTo(tx + 0.5, 18); ctx.lineTo(tx + 0.5, height); ctx.stroke();
    }
    // Lanes: only those in view, and in each only the ops in the time span.
    var drawn = 0;
    var first = Math.max(0, Math.floor(view.top));
    var last = Math.min(lanes.length, first + visibleLanes() + 1);
    for (var l = first; l < last; l++) {
      var y = AXIS_H + (l - view.top) * LANE_H;
      var list = lanes[l];
      var lastX = -1, lastK = -1;
      for (var j = firstEndingAfter(list, view.start); j < list.length; j++) {
        var o = list[j];
        if (data.s[o] > view.end) break;
        var x0 = Math.max(xOf(data.s[o]), LABEL_W), x1 = Math.min(xOf(end[o]), width);
        // Bars that fall inside the pixel just drawn, in the same colour, add nothing.
        if (x1 < lastX + 1 && data.k[o] === lastK) continue;
        ctx.fillStyle = COLORS[data.k[o]];
        ctx.fillRect(x0, y + 2, Math.max(x1 - x0, 1), LANE_H - 4);
        lastX = x1; lastK = data.k[o];
        drawn++;
      }
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, y, LABEL_W - 2, LANE_H);
      ctx.fillStyle = "#333";
      ctx.fillText(data.lanes[l], 4, y + LANE_H / 2);
    }
    // Fault labels last, on a light box, so that no bar hides them.
    for (var g = 0; g < data.faults.length; g++) {
      var lx = Math.max(xOf(data.faults[g][0]), LABEL_W) + 2;
      if (lx > width || xOf(data.faults[g][1]) < LABEL_W) continue;
      var ly = AXIS_H + 7 + 13 * (g % 2);
      var label = data.faults[g][2];
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fillRect(lx - 1, ly - 6, ctx.measureText(label).width + 2, 12);
      ctx.fillStyle = "#444";
      ctx.fillText(label, lx, ly);
    }
    status.textContent = n + " ops in " + lanes.length + " lanes; drawn " + drawn +
      " bars; showing " + seconds(view.start) + " s to " + seconds(view.end) +
      " s, lanes " + first + " to " + (last - 1);
  }

  function opAt(x, y) {
    var l = Math.floor((y - AXIS_H) / LANE_H + view.top);
    if (l < 0 || l >= lanes.length || x < LABEL_W) return -1;
    var list = lanes[l];
    var slack = 3 * (view.end - view.start) / (width - LABEL_W);
    var t = tOf(x);
    var j = firstEndingAfter(list, t - slack);
    if (j < list.length && data.s[list[j]] <= t + slack) return list[j];
    return -1;
  }
  function describe(o) {
    var took = data.e[o] < 0 ? "never completed" :
      "took " + ((data.e[o] - data.s[o]) / 1e3).toFixed(3) + " ms";
    return "process " + data.lanes[data.lane[o]] + ", index " + data.i[o] + " (" + KINDS[data.k[o]] + ")\n" +
      data.v[o] + "\ninvoked at " + seconds(data.s[o]) + " s, " + took;
  }

  function clampView() {
    var span = Math.min(Math.max(view.end - view.start, 1), dur * 1.1);
    view.start = Math.min(Math.max(view.start, -dur * 0.05), dur * 1.05 - span);
    view.end = view.start + span;
    view.top = Math.min(Math.max(view.top, 0), Math.max(lanes.length - visibleLanes(), 0));
  }
  function zoom(factor, atX) {
    var t = tOf(atX);
    view.start = t - (t - view.start) * factor;
    view.end = t + (view.end - t) * factor;
    clampView();
    draw();
  }

  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    if (ev.shiftKey) {
      view.top += (ev.deltaY || ev.deltaX) / LANE_H;
      clampView();
      draw();
    } else {
      zoom(Math.exp(ev.deltaY * 0.002), ev.offsetX);
    }
  }, { passive: false });
  var drag = null;
  canvas.addEventListener("mousedown", function (ev) {
    drag = { x: ev.clientX, y: ev.clientY, start: view.start, end: view.end, top: view.top };
  });
  window.addEventListener("mouseup", function () { drag = null; });
  canvas.addEventListener("mousemove", function (ev) {
    if (drag) {
      var dt = (ev.clientX - drag.x) / (width - LABEL_W) * (drag.end - drag.start);
      view.start = drag.start - dt;
      view.end = drag.end - dt;
      view.top = drag.top - (ev.clientY - drag.y) / LANE_H;
      clampView();
      draw();
      return;
    }
    var o = opAt(ev.offsetX, ev.offsetY);
    if (o < 0) { tip.hidden = true; return; }
    tip.textContent = describe(o);
    tip.hidden = false;
    tip.style.left = Math.min(ev.offsetX + 12, width - 320) + "px";
    tip.style.top = (ev.offsetY + 14) + "px";
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  var buttons = document.querySelectorAll("#timeline button[data-zoom]");
  for (var b = 0; b < buttons.length; b++) {
    buttons[b].addEventListener("click", function (ev) {
      var what = ev.target.getAttribute("data-zoom");
      if (what === "reset") { view = { start: 0, end: dur, top: 0 }; draw(); }
      else zoom(what === "in" ? 0.5 : 2, (LABEL_W + width) / 2);
    });
  }
  window.addEventListener("resize", function () { resize(); draw(); });

  resize();
  draw();
  // For the browser test and the benchmark: the page is drawn, and how long it took
  // from navigation start.
  document.body.setAttribute("data-ready-ms", performance.now().toFixed(1));
  // And when the whole page had loaded (after layout of everything above).
  window.addEventListener("load", function () {
    document.body.setAttribute("data-load-ms", performance.now().toFixed(1));
  });
})();
