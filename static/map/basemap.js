/* The app's own street map (issue 21), for every Leaflet map of the staff's pages.

   The server hands each page two things: `tiles` (MAP_TILE_URL, a raster tile server, maybe
   empty) and `basemap` (its own street tiles, /api/v1/basemap/{z}/{x}/{y}.json, see
   dispatch/basemap.py). DispatchBasemap.attach(map, tiles, basemap) shows the raster tiles
   when there is a URL and switches to the streets when they fail (a closed network), or
   shows the streets at once when the URL is empty.

   The street tiles are JSON: roads with a class, a name from zoom 14, and lines in tile
   coordinates (0..extent, y down). Each is drawn on one canvas per tile by an L.GridLayer:
   no projection in the browser, so a pan costs a cached fetch and a few hundred strokes.
   Names are written along a straight enough stretch of a street, when the whole label fits
   inside the tile and clears the labels already placed there.

   A classic script (the supervisors' pages are not modules); it needs Leaflet only when
   attach() is called. The map's container gets data-basemap="tiles" | "streets" | "none". */
(function () {
  "use strict";

  const BACKGROUND = "#f2efe9";
  const CASING = "#b9ae9c";
  const FILL = { major: "#f9c98a", medium: "#ffffff", minor: "#ffffff" };
  // Without casings (the city from afar), white lines would vanish on the background.
  const FAR = { major: "#e3a25a", medium: "#c2b9aa", minor: "#d3ccc0" };
  const ORDER = ["minor", "medium", "major"];  // drawn bottom to top
  // Line widths in CSS pixels by class and zoom (the last entry serves every zoom above).
  const WIDTHS = {
    major: { 10: 1.5, 11: 2, 12: 2.5, 13: 4, 14: 6, 15: 8, 16: 11, 17: 14 },
    medium: { 10: 0.8, 11: 1, 12: 1.2, 13: 2.5, 14: 4, 15: 6, 16: 8, 17: 11 },
    minor: { 10: 0.5, 11: 0.6, 12: 0.8, 13: 1.5, 14: 2.5, 15: 4, 16: 6, 17: 8 },
  };
  const CASED_FROM = 13;
  const LABEL_ZOOM = { major: 14, medium: 15, minor: 15 };
  const FONT = "11px system-ui, 'DejaVu Sans', sans-serif";
  const LABEL_MARGIN = 3;  // px a label keeps from the tile's edges

  function width(cls, z) {
    const table = WIDTHS[cls];
    const zooms = Object.keys(table).map(Number);
    const at = Math.min(Math.max(z, zooms[0]), zooms[zooms.length - 1]);
    return table[at];
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function strokeLines(ctx, lines) {
    ctx.beginPath();
    for (const run of lines) {
      ctx.moveTo(run[0], run[1]);
      for (let i = 2; i < run.length; i += 2) ctx.lineTo(run[i], run[i + 1]);
    }
    ctx.stroke();
  }

  // Where a label of width w fits on a street: a stretch of one run, w long along the run,
  // that stays within STRAIGHT px of its chord (the shipped streets wiggle, so single
  // segments are short). Tried from each vertex, the stretch nearest the run's middle wins.
  // Returns {x, y, angle} of the chord's middle, or null.
  const STRAIGHT = 3.5;

  function pointAt(pts, cum, d) {
    let i = 1;
    while (i < cum.length - 1 && cum[i] < d) i += 1;
    const t = (d - cum[i - 1]) / ((cum[i] - cum[i - 1]) || 1);
    return { x: pts[i - 1].x + (pts[i].x - pts[i - 1].x) * t, y: pts[i - 1].y + (pts[i].y - pts[i - 1].y) * t, i };
  }

  function labelSpot(lines, scale, w) {
    let best = null;
    for (const run of lines) {
      const pts = [];
      for (let i = 0; i < run.length; i += 2) pts.push({ x: run[i] * scale, y: run[i + 1] * scale });
      const cum = [0];
      for (let i = 1; i < pts.length; i += 1) cum.push(cum[i - 1] + Math.hypot(pts[i].x - pts[i - 1].x, pts[i].y - pts[i - 1].y));
      const total = cum[cum.length - 1];
      if (total < w) continue;
      for (let k = 0; k < pts.length - 1 && cum[k] + w <= total; k += 1) {
        const a = pts[k], b = pointAt(pts, cum, cum[k] + w);
        const len = Math.hypot(b.x - a.x, b.y - a.y);
        if (len < w * 0.95) continue;
        let straight = true;
        for (let j = k + 1; j < b.i && straight; j += 1) {
          straight = Math.abs((b.x - a.x) * (a.y - pts[j].y) - (a.x - pts[j].x) * (b.y - a.y)) / len <= STRAIGHT;
        }
        if (!straight) continue;
        const off = Math.abs(cum[k] + w / 2 - total / 2);
        if (!best || off < best.off) best = { off, x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, angle: Math.atan2(b.y - a.y, b.x - a.x) };
      }
    }
    return best;
  }

  function labelBox(x, y, angle, w, h) {
    // The axis-aligned box around the rotated label: enough to keep labels apart.
    const c = Math.abs(Math.cos(angle)), s = Math.abs(Math.sin(angle));
    const hw = (w * c + h * s) / 2, hh = (w * s + h * c) / 2;
    return { x0: x - hw, y0: y - hh, x1: x + hw, y1: y + hh };
  }

  function drawLabels(ctx, roads, z, size) {
    const placed = [];
    ctx.font = FONT;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineJoin = "round";
    // Bigger roads first: they win the space.
    for (const cls of ["major", "medium", "minor"]) {
      if (z < LABEL_ZOOM[cls]) continue;
      for (const road of roads) {
        if (road.class !== cls || !road.name) continue;
        const w = ctx.measureText(road.name).width + 8;
        const seg = labelSpot(road.lines, size / road.extent, w);
        if (!seg) continue;
        let angle = seg.angle;
        if (angle > Math.PI / 2) angle -= Math.PI;  // never upside down
        if (angle < -Math.PI / 2) angle += Math.PI;
        const box = labelBox(seg.x, seg.y, angle, w, 14);
        if (box.x0 < LABEL_MARGIN || box.y0 < LABEL_MARGIN || box.x1 > size - LABEL_MARGIN || box.y1 > size - LABEL_MARGIN) continue;
        if (placed.some((b) => box.x0 < b.x1 && box.x1 > b.x0 && box.y0 < b.y1 && box.y1 > b.y0)) continue;
        placed.push(box);
        ctx.save();
        ctx.translate(seg.x, seg.y);
        ctx.rotate(angle);
        ctx.lineWidth = 3;
        ctx.strokeStyle = "rgba(255,255,255,0.9)";
        ctx.strokeText(road.name, 0, 0);
        ctx.fillStyle = "#3b3b3b";
        ctx.fillText(road.name, 0, 0);
        ctx.restore();
      }
    }
    return placed.length;
  }

  // Draws one tile's roads; returns {roads, lines, labels} for the canvas' data attributes.
  function drawTile(canvas, data, z, size, ratio) {
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const scale = size / data.extent;
    const roads = data.roads.map((r) => ({ ...r, extent: data.extent }));
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.save();
    ctx.scale(scale, scale);
    const cased = z >= CASED_FROM;
    for (const pass of cased ? ["casing", "fill"] : ["fill"]) {
      for (const cls of ORDER) {
        const lines = roads.filter((r) => r.class === cls).flatMap((r) => r.lines);
        if (!lines.length) continue;
        const w = width(cls, z);
        ctx.lineWidth = (pass === "casing" ? w + 2 : w) / scale;
        ctx.strokeStyle = pass === "casing" ? CASING : cased ? FILL[cls] : FAR[cls];
        strokeLines(ctx, lines);
      }
    }
    ctx.restore();
    const labels = drawLabels(ctx, roads, z, size);
    return { roads: roads.length, lines: roads.reduce((n, r) => n + r.lines.length, 0), labels };
  }

  let StreetLayer = null;

  function streetLayerClass() {
    if (StreetLayer) return StreetLayer;
    StreetLayer = L.GridLayer.extend({
      options: { url: "", tileSize: 256, maxZoom: 20, updateWhenZooming: false, className: "basemap-streets" },

      createTile(coords, done) {
        const size = this.getTileSize().x;
        const ratio = Math.min(window.devicePixelRatio || 1, 2);
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = size * ratio;
        canvas.dataset.z = coords.z;
        const url = L.Util.template(this.options.url, { z: coords.z, x: coords.x, y: coords.y });
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
          .then((data) => {
            const drawn = drawTile(canvas, data, coords.z, size, ratio);
            canvas.dataset.roads = drawn.roads;
            canvas.dataset.lines = drawn.lines;
            canvas.dataset.labels = drawn.labels;
            done(null, canvas);
          })
          .catch((error) => done(error, canvas));
        return canvas;
      },
    });
    return StreetLayer;
  }

  function streets(basemap) {
    const Layer = streetLayerClass();
    return new Layer({ url: basemap.url, attribution: escapeHtml(basemap.attribution || "") });
  }

  /* Shows raster tiles or the app's streets on `map`. Raster tiles that fail (none loaded
     after 4 errors, or 12 errors in a row later on) give way to the streets for the rest
     of the page's life; a reload tries the tile server again. onChange(mode) is told. */
  function attach(map, tiles, basemap, onChange) {
    const container = map.getContainer();
    const set = (mode) => {
      container.dataset.basemap = mode;
      if (mode === "streets") container.style.background = BACKGROUND;
      if (onChange) onChange(mode);
    };
    const useStreets = () => {
      if (basemap && basemap.url && basemap.source) {
        // data-streets: "loading" until every tile in view is drawn, then "loaded".
        streets(basemap)
          .on("loading", () => { container.dataset.streets = "loading"; })
          .on("load", () => { container.dataset.streets = "loaded"; })
          .addTo(map);
        set("streets");
      } else set("none");
    };
    if (!tiles || !tiles.url) { useStreets(); return; }
    const raster = L.tileLayer(tiles.url, { maxZoom: 19, attribution: tiles.attribution, crossOrigin: false });
    let loaded = 0, failedInARow = 0, switched = false;
    raster.on("tileload", () => { loaded += 1; failedInARow = 0; });
    raster.on("tileerror", () => {
      failedInARow += 1;
      if (switched || !(failedInARow >= (loaded ? 12 : 4))) return;
      switched = true;
      map.removeLayer(raster);
      useStreets();
    });
    raster.addTo(map);
    set("tiles");
  }

  window.DispatchBasemap = { attach, drawTile };
})();
