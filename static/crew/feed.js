// The unit feed /ws/unit/: this unit's events, pushed. It resumes from the last journal id
// it saw (?since=), so a dropped connection in a moving ambulance loses nothing; a ping
// every PING_S that goes unanswered for PONG_WAIT_S counts as a dead connection (a phone
// changing cells often keeps a socket that looks open and carries nothing).

const PING_S = 20;
const PONG_WAIT_S = 8;
const LAST_ID = "crew.lastId";

export const REVOKED = 4401;  // the token was replaced or revoked
export const REFUSED = 4403;

export class Feed {
  constructor({ url, token, onMessage, onStatus, onSignedOut }) {
    Object.assign(this, { url, token, onMessage, onStatus, onSignedOut });
    this.socket = null;
    this.attempt = 0;
    this.stopped = false;
    this.lastId = Number(localStorage.getItem(LAST_ID)) || null;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.pinger);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  /* Reconnect now (the network came back): no waiting out the back-off. */
  kick() {
    if (this.stopped) return;
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    clearTimeout(this.retry);
    this.open();
  }

  /* The network is gone: close the socket (onclose shows "no connection" and retries). */
  drop() {
    if (this.socket) this.socket.close(4000, "offline");
  }

  seen(id) {
    if (Number.isInteger(id) && (this.lastId === null || id > this.lastId)) {
      this.lastId = id;
      localStorage.setItem(LAST_ID, String(id));
    }
  }

  forget() {
    this.lastId = null;
    localStorage.removeItem(LAST_ID);
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ token: this.token() });
    if (this.lastId !== null) params.set("since", String(this.lastId));
    const socket = new WebSocket(`${scheme}://${location.host}${this.url}?${params}`);
    this.socket = socket;
    this.onStatus("connecting", { attempt: this.attempt });
    let awaitingPong = null;
    socket.onopen = () => {
      this.attempt = 0;
      this.onStatus("live", {});
      clearInterval(this.pinger);
      this.pinger = setInterval(() => {
        if (socket.readyState !== WebSocket.OPEN) return;
        socket.send(JSON.stringify({ type: "ping" }));
        clearTimeout(awaitingPong);
        awaitingPong = setTimeout(() => socket.close(4000, "no pong"), PONG_WAIT_S * 1000);
      }, PING_S * 1000);
    };
    socket.onmessage = (message) => {
      let data;
      try { data = JSON.parse(message.data); } catch { return; }
      if (data.type === "pong") {
        clearTimeout(awaitingPong);
        this.seen(data.last_id);  // the last id the server examined: a safe place to resume
        return;
      }
      if (data.type === "resync") {
        this.seen(data.last_id);
        this.onMessage(data);
        return;
      }
      this.onMessage(data);
      if (data.id) this.seen(data.id);
    };
    socket.onclose = (event) => {
      clearTimeout(awaitingPong);
      if (this.socket !== socket) return;
      clearInterval(this.pinger);
      this.socket = null;
      if (this.stopped) return;
      if (event.code === REVOKED || event.code === REFUSED) {
        this.onSignedOut(event.code);
        return;
      }
      this.attempt += 1;
      // 0.5 s, 1 s, 2 s, 4 s, then every 8 s; `online` events and a tap kick it sooner.
      const delay = Math.min(8000, 500 * 2 ** Math.min(this.attempt - 1, 4));
      this.onStatus("down", { attempt: this.attempt, code: event.code });
      this.retry = setTimeout(() => this.open(), delay);
    };
    socket.onerror = () => {};  // onclose follows
  }
}
