// FleetOps pages (ops console and driver portal): charts and maps from data islands, live updates
// over Server-Sent Events, the theme switch. No page logic beyond drawing what the server sent.
(function () {
  "use strict";
  var PALETTE = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#3949ab", "#c0ca33", "#d81b60"];
  var charts = [];

  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }
  function island(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; }
  // Enough decimals to tell a value from its neighbours on an axis: small fraud rates such as
  // 0.02 % and 0.04 % (every tick read "0 %" with one decimal), whole numbers above 10.
  function digits(abs, unit) {
    if (abs === 0 || !isFinite(abs)) return 0;
    if (abs < 1) return Math.min(4, 1 - Math.floor(Math.log10(abs)));
    if (abs < 10) return unit === "%" ? 1 : 2;
    return unit === "%" && abs < 100 ? 1 : 0;
  }
  function fmt(value, unit) {
    if (value === null || value === undefined) return "—";
    var n = Number(value).toLocaleString(undefined, { maximumFractionDigits: digits(Math.abs(Number(value)), unit) });
    if (unit === "€" || unit === "$") return unit + n;
    return unit ? n + (unit === "%" ? " %" : " " + unit) : n;
  }

  function dataset(spec, d, i, type) {
    var colour = d.colour || PALETTE[i % PALETTE.length];
    var out = { label: d.label, data: d.data, borderColor: colour, backgroundColor: colour, borderWidth: 2, spanGaps: true };
    if (type === "line") { out.pointRadius = d.data.length > 60 ? 0 : 2; out.tension = 0.2; out.backgroundColor = colour + "33"; }
    if (type === "doughnut" || type === "pie") { out.backgroundColor = d.data.map(function (_, k) { return PALETTE[k % PALETTE.length]; }); out.borderColor = css("--pico-background-color") || "#fff"; }
    if (d.dashed) out.borderDash = [6, 4];
    if (d.band) { out.borderWidth = 0; out.pointRadius = 0; out.backgroundColor = "rgba(30,136,229,0.18)"; out.fill = d.band === "high" ? "-1" : false; out.borderColor = "transparent"; }
    if (d.fleet) { out.borderColor = "#c62828"; out.borderWidth = 1.5; out.pointRadius = 0; out.borderDash = [2, 2]; }
    if (d.axis) out.yAxisID = d.axis;
    if (d.type) out.type = d.type;
    return out;
  }

  // Shaded horizontal ranges behind the data (spec.bands: [{from, to, colour, label}] in y units),
  // each named at its right edge: a score's bands, a road's limits.
  var bandsPlugin = {
    id: "bands",
    beforeDatasetsDraw: function (chart) {
      var bands = chart.config.options.plugins.bands || [];
      var area = chart.chartArea, y = chart.scales.y, ctx = chart.ctx;
      if (!bands.length || !y) return;
      ctx.save();
      bands.forEach(function (b) {
        var top = Math.max(y.getPixelForValue(b.to), area.top), bottom = Math.min(y.getPixelForValue(b.from), area.bottom);
        if (bottom <= top) return;
        ctx.fillStyle = b.colour;
        ctx.fillRect(area.left, top, area.right - area.left, bottom - top);
        if (b.label) {
          ctx.fillStyle = css("--pico-muted-color") || "#666";
          ctx.font = "11px system-ui, sans-serif";
          ctx.textAlign = "right";
          ctx.textBaseline = "top";
          ctx.fillText(b.label, area.right - 4, top + 2);
        }
      });
      ctx.restore();
    }
  };

  function drawChart(canvas) {
    var spec = island(canvas.dataset.chart);
    if (!spec || !window.Chart) return;
    var type = spec.type || "line";
    var text = css("--pico-muted-color") || "#666";
    var grid = css("--pico-muted-border-color") || "#ddd";
    var config = {
      type: type,
      data: { labels: spec.labels, datasets: spec.datasets.map(function (d, i) { return dataset(spec, d, i, type); }) },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: type === "line" ? "index" : "nearest", intersect: false },
        plugins: {
          legend: { display: spec.datasets.length > 1 || type === "doughnut", labels: { color: text, boxWidth: 12, filter: function (item, data) { var d = spec.datasets[item.datasetIndex]; return !(d && d.band === "low") && !/^Forecast (low|high)$/.test(item.text); } } },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + fmt(ctx.parsed.y !== undefined ? ctx.parsed.y : ctx.parsed, (ctx.dataset.yAxisID === "y2" ? spec.unit2 : spec.unit) || ""); } } }
        },
        scales: type === "doughnut" ? {} : {
          x: { ticks: { color: text, maxTicksLimit: 12, autoSkip: true, maxRotation: 0 }, grid: { color: grid }, stacked: !!spec.stacked },
          y: { ticks: { color: text, callback: function (v) { return fmt(v, spec.unit || ""); } }, grid: { color: grid }, beginAtZero: true, stacked: !!spec.stacked, title: { display: !!spec.y_title, text: spec.y_title || "", color: text } }
        }
      }
    };
    var twoAxes = spec.datasets.some(function (d) { return d.axis === "y2"; });
    if (twoAxes && type !== "doughnut") {
      config.options.scales.y2 = { position: "right", ticks: { color: text, callback: function (v) { return fmt(v, spec.unit2 || ""); } }, grid: { drawOnChartArea: false }, beginAtZero: true, title: { display: !!spec.y2_title, text: spec.y2_title || "", color: text } };
    }
    if (spec.bands && type !== "doughnut") {
      config.options.plugins.bands = spec.bands;
      config.plugins = [bandsPlugin];
    }
    if (spec.y_min !== undefined && type !== "doughnut") config.options.scales.y.min = spec.y_min;
    if (spec.y_max !== undefined && type !== "doughnut") config.options.scales.y.max = spec.y_max;
    if (spec.horizontal) {
      config.options.indexAxis = "y";
      config.options.scales.x.ticks.callback = function (v) { return fmt(v, spec.unit || ""); };
      config.options.scales.y.ticks.callback = function (v) { var l = this.getLabelForValue(v); return l.length > 28 ? l.slice(0, 27) + "…" : l; };
    }
    if (spec.links) {
      config.options.onClick = function (_, elements) { if (elements.length && spec.links[elements[0].index]) window.location.href = spec.links[elements[0].index]; };
      config.options.onHover = function (e, elements) { e.native.target.style.cursor = elements.length ? "pointer" : "default"; };
    }
    charts.push(new window.Chart(canvas, config));
  }

  // Every map's background: the tiles of MAP_TILES_URL (body's data-tiles; none when empty). Tiles
  // unreachable (offline, blocked, a server down): once a few have failed and none has loaded, the
  // map drops the background, so no further tile is asked for, and the tab remembers it for ten
  // minutes, so the next pages ask for none; the markers and routes are drawn either way.
  var TILES_DOWN_MS = 10 * 60 * 1000;
  function tilesDown(url, now) {
    var key = "fleetops-tiles-down:" + url;
    try {
      if (now) { sessionStorage.setItem(key, String(Date.now())); return true; }
      return Date.now() - Number(sessionStorage.getItem(key) || 0) < TILES_DOWN_MS;
    } catch (e) { return false; } // storage blocked: ask again on every page
  }
  function baseMap(el) {
    var url = document.body.dataset.tiles;
    var map = window.L.map(el, { scrollWheelZoom: false, attributionControl: !!url });
    if (!url) return map;
    if (tilesDown(url)) { el.dataset.tiles = "unreachable"; return map; }
    var tiles = window.L.tileLayer(url, { maxZoom: 18, attribution: document.body.dataset.tilesAttribution || "" });
    var loaded = false, failed = 0;
    tiles.on("tileload", function () { loaded = true; });
    tiles.on("tileerror", function () {
      failed += 1;
      if (!loaded && failed >= 3 && map.hasLayer(tiles)) {
        map.removeLayer(tiles);
        el.dataset.tiles = "unreachable";
        tilesDown(url, true);
      }
    });
    tiles.addTo(map);
    return map;
  }
  window.FleetOps = { baseMap: baseMap };

  function drawMap(el) {
    var spec = island(el.dataset.map);
    if (!spec || !window.L || el._leaflet_id) return;  // drawn already
    var map = baseMap(el);
    var bounds = [];
    // Lines first, so the points stay on top of them (a route with its events).
    (spec.lines || []).forEach(function (line) {
      var path = window.L.polyline(line.points, { color: line.colour || "#e53935", weight: line.weight || 3 }).addTo(map);
      if (line.label) path.bindPopup(line.label).bindTooltip(line.label, { sticky: true });
      bounds = bounds.concat(line.points);
    });
    (spec.points || []).forEach(function (p) {
      var marker = window.L.circleMarker([p.lat, p.lon], { radius: p.radius || 7, color: p.colour || "#1e88e5", fillOpacity: 0.7, weight: 1 }).addTo(map);
      if (p.short) marker.bindTooltip(p.short, { permanent: true, direction: "right", className: "map-label" });
      if (p.label) marker.bindPopup(p.label);
      bounds.push([p.lat, p.lon]);
    });
    if (bounds.length) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 14 }); else map.setView([51.2, 10.4], 6);
  }

  function live() {
    var topics = document.body.dataset.live;
    if (!topics || !window.EventSource) return;
    var status = document.querySelectorAll("[data-live-status]");
    var pending = {};
    var source = new EventSource(document.body.dataset.liveUrl + "?topics=" + encodeURIComponent(topics));
    source.onopen = function () { status.forEach(function (s) { s.classList.add("on"); s.title = "Connected: updates arrive without a reload"; }); document.body.dataset.liveConnected = "1"; };
    source.onerror = function () { status.forEach(function (s) { s.classList.remove("on"); }); };
    topics.split(",").forEach(function (topic) {
      source.addEventListener(topic, function () {
        if (pending[topic]) return;
        pending[topic] = setTimeout(function () {
          pending[topic] = null;
          document.querySelectorAll('[data-live-topic="' + topic + '"]').forEach(function (el) {
            var options = { target: el, swap: "innerHTML" };
            if (el.dataset.liveSelect) options.select = el.dataset.liveSelect;
            window.htmx.ajax("GET", el.dataset.liveUrl, options).then(function () {
              el.querySelectorAll("[data-map]").forEach(drawMap);
              var first = el.querySelector(".feed li");
              if (first) first.classList.add("fresh");
              document.body.dataset.liveUpdates = String(Number(document.body.dataset.liveUpdates || 0) + 1);
            });
          });
        }, 300);
      });
    });
    window.addEventListener("beforeunload", function () { source.close(); });
    // A live-swapped part may hold a map: draw it once htmx has put the new content in place.
    document.body.addEventListener("htmx:afterSettle", function (e) { e.target.querySelectorAll("[data-map]").forEach(drawMap); });
  }

  function theme() {
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      button.addEventListener("click", function () {
        var root = document.documentElement;
        var dark = root.getAttribute("data-theme") === "dark" || (!root.getAttribute("data-theme") && window.matchMedia("(prefers-color-scheme: dark)").matches);
        var next = dark ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try { localStorage.setItem("fleetops-theme", next); } catch (e) { /* storage blocked */ }
        charts.forEach(function (c) { c.destroy(); });
        charts = [];
        document.querySelectorAll("canvas[data-chart]").forEach(drawChart);
      });
    });
  }

  // A compact menu on phones: the button shows or hides the element it controls.
  function menus() {
    document.querySelectorAll("[data-menu-toggle]").forEach(function (button) {
      var target = document.getElementById(button.getAttribute("aria-controls"));
      if (!target) return;
      button.addEventListener("click", function () {
        var open = target.classList.toggle("open");
        button.setAttribute("aria-expanded", open ? "true" : "false");
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(drawChart);
    document.querySelectorAll("[data-map]").forEach(drawMap);
    live();
    theme();
    menus();
    document.body.dataset.ready = "1";
  });
})();
