// The QR login page: make a ticket, show its QR, follow it over a WebSocket (long-poll when
// WebSockets are blocked), renew the QR before it expires, and leave on `confirmed`.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("qr-config").textContent);
  const TEXT = {
    zh: {
      legal_rep: "法人扫码登录", agent: "办事员扫码登录", personal: "个人登录",
      remaining: (s) => `二维码 ${s} 秒后自动刷新`, remainingFinal: (s) => `二维码 ${s} 秒后失效`,
      scanned: "扫码成功，请在手机上确认", scannedDetail: (n) => `${n} 正在手机上确认登录`,
      confirmed: "登录成功，正在跳转…", rejected: "您已在手机上取消登录", expired: "二维码已过期",
      expiredDetail: "请点击刷新二维码后重新扫码", renewing: "正在刷新二维码…",
      noAccount: "未找到可登录的账号", faceExhausted: "人脸识别失败次数过多，本次登录已取消",
      numberMismatch: "手机上选择的数字不一致，本次登录已取消",
      error: "网络异常，正在重新连接…", failed: "无法生成二维码，请稍后重试", polling: "已切换为兼容连接方式",
    },
    en: {
      legal_rep: "Legal representative", agent: "Agent", personal: "Personal",
      remaining: (s) => `The code refreshes in ${s} s`, remainingFinal: (s) => `The code expires in ${s} s`,
      scanned: "Scanned — confirm on your phone", scannedDetail: (n) => `${n} is confirming on the phone`,
      confirmed: "Signed in, redirecting…", rejected: "The login was cancelled on the phone", expired: "The QR code has expired",
      expiredDetail: "Refresh the code and scan again", renewing: "Refreshing the QR code…",
      noAccount: "No account to sign in with", faceExhausted: "Too many failed face checks; the login was cancelled",
      numberMismatch: "The number picked on the phone was wrong; the login was cancelled",
      error: "Connection problem, reconnecting…", failed: "Could not create a QR code; try again later", polling: "Using the fallback connection",
    },
  };
  const t = TEXT[config.lang] || TEXT.zh;
  const $ = (id) => document.getElementById(id);
  let renewalsLeft = config.auto_renewals;

  let identity = config.identity;
  let current = null;     // {ticket_id, browser_secret, expires_at, ...}
  let socket = null;
  let version = 0;
  let failures = 0;
  let usePolling = false;
  let timer = null;

  function setIdentity(value) {
    identity = value;
    $("identity-title").textContent = t[value] || value;
    document.querySelectorAll(".identity").forEach((b) => {
      b.classList.toggle("active", b.dataset.identity === value);
      b.setAttribute("aria-pressed", b.dataset.identity === value ? "true" : "false");
    });
  }

  function overlay(state, title, detail, refreshable) {
    $("qr-frame").dataset.state = state;
    $("qr-overlay").hidden = !title;
    $("overlay-title").textContent = title || "";
    $("overlay-detail").textContent = detail || "";
    $("refresh-button").hidden = !refreshable;
    $("overlay-icon").className = "overlay-icon icon-" + state;
    showNumber("");
  }

  // Number matching: the number the phone must pick, while the login waits for it.
  function showNumber(number) {
    $("match-number").hidden = !number;
    $("match-number-value").textContent = number || "";
  }

  function closeChannel() {
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    current = current && { ...current, closed: true };
  }

  async function newTicket() {
    closeChannel();
    clearInterval(timer);
    overlay("loading", "", "", false);
    $("qr-image").hidden = true;
    $("qr-loading").hidden = false;
    $("countdown").textContent = "";
    try {
      const response = await fetch("/api/tickets", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ request: config.request, identity }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error((body.message && body.message[config.lang]) || t.failed);
      current = body;
      version = 0;
      $("qr-image").src = QrDraw.dataUrl(QrDraw.encode(body.qr_text), document);
      $("qr-image").hidden = false;
      $("qr-image").dataset.ticket = body.ticket_id;
      $("qr-loading").hidden = true;
      overlay("pending", "", "", false);
      timer = setInterval(tick, 1000);
      tick();
      connect(body);
    } catch (err) {
      $("qr-loading").hidden = true;
      overlay("error", err.message || t.failed, "", true);
    }
  }

  function secondsLeft() { return Math.max(0, Math.round(current.expires_at - Date.now() / 1000)); }

  function tick() {
    if (!current || $("qr-frame").dataset.state !== "pending") return;
    const left = secondsLeft();
    $("countdown").textContent = renewalsLeft > 0 ? t.remaining(left) : t.remainingFinal(left);
    // Renew a few seconds early, like the halls do, a bounded number of times: an idle tab
    // ends on "expired" with a refresh button instead of minting tickets forever.
    if (left <= Math.min(8, current.lifetime / 10) && renewalsLeft > 0) {
      renewalsLeft -= 1;
      $("status-line").textContent = t.renewing;
      newTicket().then(() => { $("status-line").textContent = ""; });
    } else if (left === 0) {
      overlay("expired", t.expired, t.expiredDetail, true);
    }
  }

  function connect(ticket) {
    if (usePolling) { poll(ticket); return; }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${ticket.ws_url}`);
    socket = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", secret: ticket.browser_secret }));
    ws.onmessage = (message) => { failures = 0; handle(JSON.parse(message.data)); };
    ws.onclose = () => {
      if (socket !== ws || ticket.closed) return;
      socket = null;
      const state = $("qr-frame").dataset.state;
      if (["confirmed", "rejected", "expired", "consumed"].includes(state)) return;
      failures += 1;
      $("status-line").textContent = t.error;
      if (failures >= 3) { usePolling = true; $("status-line").textContent = t.polling; }
      setTimeout(() => { if (current === ticket) connect(ticket); }, Math.min(500 * 2 ** failures, 5000));
    };
  }

  async function poll(ticket) {
    while (current === ticket && !ticket.closed) {
      try {
        const response = await fetch(ticket.poll_url, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ secret: ticket.browser_secret, version }),
        });
        const body = await response.json();
        if (!response.ok) { overlay("error", body.message[config.lang], "", true); return; }
        handle(body);
        if (["confirmed", "rejected", "expired", "consumed"].includes(body.state)) return;
      } catch (err) {
        $("status-line").textContent = t.error;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  function handle(event) {
    if (event.type === "error") { overlay("error", event.message[config.lang], "", true); return; }
    if (event.type !== "state" || !current || event.ticket !== current.ticket_id) return;
    if (event.version < version) return;
    version = event.version;
    $("status-line").textContent = "";
    if (event.expires_at) current.expires_at = event.expires_at;
    switch (event.state) {
      case "pending": overlay("pending", "", "", false); tick(); break;
      case "scanned":
        $("countdown").textContent = "";
        overlay("scanned", t.scanned, event.name ? t.scannedDetail(event.name) : "", false);
        showNumber(event.number);
        break;
      case "confirmed": overlay("confirmed", t.confirmed, "", false); leave(event.redirect); break;
      case "consumed": overlay("confirmed", t.confirmed, "", false); break;
      case "rejected": overlay("rejected", rejectedText(event.reason), t.expiredDetail, true); break;
      case "expired": overlay("expired", t.expired, t.expiredDetail, true); break;
    }
  }

  function rejectedText(reason) {
    if (reason === "no_account") return t.noAccount;
    if (reason === "face_check_exhausted") return t.faceExhausted;
    if (reason === "number_mismatch") return t.numberMismatch;
    return t.rejected;
  }

  function leave(redirect) {
    if (!redirect) return;
    closeChannel();
    clearInterval(timer);
    if (config.embedded && window.parent !== window) {
      window.parent.postMessage({ type: "qrauth:confirmed", redirect }, config.redirect_origin);
    } else {
      window.location.assign(redirect);
    }
  }

  document.querySelectorAll(".identity").forEach((button) => {
    button.addEventListener("click", () => {
      if (button.dataset.identity === identity && $("qr-frame").dataset.state === "pending") return;
      setIdentity(button.dataset.identity);
      newTicket();
    });
  });
  $("refresh-button").addEventListener("click", () => {
    renewalsLeft = config.auto_renewals;
    newTicket();
  });
  setIdentity(identity);
  newTicket();
})();
