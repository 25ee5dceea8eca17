// The live fleet map: markers from the page's data island, moved by the `positions` live topic
// (one message per stored request or buffered flush, each device's newest position in it).
(function () {
  "use strict";
  var COLOURS = { moving: "#2e7d32", stopped: "#546e7a" };

  function ago(t) {
    var s = Math.max(0, Math.round(Date.now() / 1000 - t));
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function kmh(speed) { return speed === null || speed === undefined ? "—" : Math.round(speed * 3.6).toLocaleString() + " km/h"; }
  function link(href, text) { var a = document.createElement("a"); a.href = href; a.textContent = text; return a; }

  function init() {
    var el = document.querySelector("[data-fleet-map]");
    if (!el || !window.L || !window.FleetOps) return;
    var spec = JSON.parse(document.getElementById(el.dataset.fleetMap).textContent);
    // The background of every map (static/common/fleetops.js): with no tile server reachable the
    // markers draw on a blank background and no further tile is asked for.
    var map = window.FleetOps.baseMap(el);
    var vehicles = {}; // by device id
    var reloadAt = 0;

    function isMoving(v) {
      if (Date.now() / 1000 - v.t > spec.stop_seconds) return false;
      if (v.speed === null || v.speed === undefined) return !!v.trip_url;
      return v.speed >= spec.moving_speed;
    }

    function popup(v) {
      var box = document.createElement("div");
      box.className = "fleet-popup";
      var title = document.createElement("p");
      title.appendChild(document.createElement("strong")).textContent = v.plate;
      title.appendChild(document.createTextNode(" " + v.name));
      var facts = document.createElement("p");
      facts.textContent = (v.moving ? "Moving, " + kmh(v.speed) : "Stopped") + " · " + ago(v.t);
      var links = document.createElement("p");
      links.appendChild(link(v.url, "Vehicle page"));
      if (v.trip_url) links.appendChild(link(v.trip_url, "Trip in progress"));
      box.appendChild(title); box.appendChild(facts); box.appendChild(links);
      return box;
    }

    function row(v) { return document.querySelector('tr[data-device="' + v.device + '"]'); }

    function show(v) {
      v.moving = isMoving(v);
      var colour = v.moving ? COLOURS.moving : COLOURS.stopped;
      if (!v.marker) {
        v.marker = window.L.circleMarker([v.lat, v.lon], { radius: 8, weight: 2, color: "#fff", fillColor: colour, fillOpacity: 0.9 }).addTo(map);
        v.marker.bindTooltip(v.plate, { permanent: true, direction: "right", className: "map-label" });
        v.marker.bindPopup(function () { return popup(v); });
      } else {
        v.marker.setLatLng([v.lat, v.lon]);
        v.marker.setStyle({ fillColor: colour });
      }
      var tr = row(v);
      if (tr) {
        var state = tr.querySelector('[data-cell="state"] .state');
        state.className = "state " + (v.moving ? "moving" : "stopped");
        state.textContent = v.moving ? "Moving" : "Stopped";
        tr.querySelector('[data-cell="speed"]').textContent = kmh(v.speed);
        var seen = tr.querySelector('[data-cell="seen"]');
        seen.dataset.t = v.t;
        seen.textContent = ago(v.t);
      }
    }

    function counts() {
      var moving = 0, stopped = 0;
      Object.keys(vehicles).forEach(function (k) { if (vehicles[k].moving) moving += 1; else stopped += 1; });
      var m = document.querySelector('[data-count="moving"]'), s = document.querySelector('[data-count="stopped"]');
      if (m) m.textContent = moving.toLocaleString();
      if (s) s.textContent = stopped.toLocaleString();
    }

    function load(list) {
      list.forEach(function (v) {
        var known = vehicles[v.device];
        if (known) {
          if (v.t < known.t) return;
          ["lat", "lon", "t", "speed", "trip_url"].forEach(function (k) { known[k] = v[k]; });
          show(known);
        } else {
          vehicles[v.device] = v;
          show(v);
        }
      });
      counts();
    }

    function reload() {
      // New vehicles started reporting: at most one reload every ten seconds.
      if (Date.now() < reloadAt) return;
      reloadAt = Date.now() + 10000;
      fetch(el.dataset.positionsUrl, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) { if (data) load(data.vehicles); });
    }

    load(spec.vehicles);
    var bounds = spec.vehicles.map(function (v) { return [v.lat, v.lon]; });
    if (bounds.length) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 }); else map.setView([51.2, 10.4], 6);

    if (window.EventSource) {
      var status = document.querySelector("[data-map-live]");
      var source = new EventSource(document.body.dataset.liveUrl + "?topics=positions");
      source.onopen = function () { status.classList.add("on"); status.title = "Connected: positions arrive without a reload"; document.body.dataset.liveConnected = "1"; };
      source.onerror = function () { status.classList.remove("on"); status.title = "Reconnecting…"; };
      source.addEventListener("positions", function (event) {
        var data = JSON.parse(event.data);
        if (data.reload) { reloadAt = 0; reload(); return; }
        var unknown = false;
        (data.positions || []).forEach(function (p) {
          var v = vehicles[p.device];
          if (!v) { unknown = true; return; }
          if (p.t < v.t) return; // a late position: the marker shows a newer one
          v.lat = p.lat; v.lon = p.lon; v.t = p.t;
          if (p.speed !== null) v.speed = p.speed;
          show(v);
        });
        counts();
        if (unknown) reload();
        document.body.dataset.liveUpdates = String(Number(document.body.dataset.liveUpdates || 0) + 1);
      });
      window.addEventListener("beforeunload", function () { source.close(); });
    }
    // A vehicle that stops reporting turns to stopped once the stop time has passed.
    window.setInterval(function () {
      Object.keys(vehicles).forEach(function (k) { show(vehicles[k]); });
      counts();
    }, 15000);
    window.fleetMap = { map: map, vehicles: vehicles };
    el.dataset.ready = "1";
  }

  document.addEventListener("DOMContentLoaded", init);
})();
