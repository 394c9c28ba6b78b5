// The phone's position: navigator.geolocation.watchPosition, thinned to one fix every
// EVERY_S seconds or every EVERY_M metres (whichever comes first), each kept with the
// time the phone took it (recorded_at), so fixes sent late still draw the true track.

export const EVERY_S = 5;
export const EVERY_M = 20;
// A phone standing still may report nothing for minutes; the dispatcher skips units whose
// position is older than DISPATCH_STALE_LOCATION_S (300 s), so ask for a fix now and then.
export const STILL_S = 60;

export function metresBetween(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}

function finite(value) {
  return value === null || value === undefined || !Number.isFinite(value) ? null : value;
}

/* Calls onFix(fix) with {lat, lon, accuracy_m, heading, speed_mps, recorded_at} for every
   kept position, onState("ok" | "denied" | "unavailable" | "unsupported") on changes. */
export function watch({ onFix, onState }) {
  if (!("geolocation" in navigator)) { onState("unsupported"); return () => {}; }
  let last = null;
  const options = { enableHighAccuracy: true, maximumAge: 0, timeout: 30000 };
  const seen = (position) => {
    onState("ok");
    const c = position.coords;
    const fix = {
      lat: c.latitude, lon: c.longitude, accuracy_m: finite(c.accuracy),
      heading: finite(c.heading) !== null && c.heading >= 0 && c.heading <= 360 ? c.heading : null,
      speed_mps: finite(c.speed) !== null && c.speed >= 0 && c.speed <= 150 ? c.speed : null,
      recorded_at: new Date(position.timestamp || Date.now()).toISOString(),
    };
    const due = !last || (Date.parse(fix.recorded_at) - Date.parse(last.recorded_at)) / 1000 >= EVERY_S
      || metresBetween(last, fix) >= EVERY_M;
    if (due) {
      last = fix;
      onFix(fix);
    }
  };
  const failed = (error) => onState(error.code === error.PERMISSION_DENIED ? "denied" : "unavailable");
  const id = navigator.geolocation.watchPosition(seen, failed, options);
  const still = setInterval(() => {
    if (!last || Date.now() - Date.parse(last.recorded_at) >= STILL_S * 1000) {
      navigator.geolocation.getCurrentPosition(seen, failed, { ...options, maximumAge: 10000 });
    }
  }, STILL_S * 1000);
  return () => { navigator.geolocation.clearWatch(id); clearInterval(still); };
}
