// 电子社保卡 phone page. Every step goes to the page's server, which drives PhoneApp; the screen
// shown is derived from the server's view of the phone (/api/state), so a reload resumes.
"use strict";

(() => {
  const config = JSON.parse(document.getElementById("config").textContent);
  const t = config.t;
  const lang = config.lang;
  const query = lang === "en" ? "?lang=en" : "";
  const $ = (id) => document.getElementById(id);
  const FACE_ANIMATION_MS = 1400;
  const TITLES = {
    apply: t.apply_title, home: t.title, scan: t.scan_title, request: t.request_title,
    face: t.face_title, confirm: t.confirm_title, number: t.number_title, outcome: t.title, loading: t.title,
    certificate: t.cert_title,
  };

  let view = null;
  let wantScan = false;
  let faceFor = "login";
  let chosenKey = "";

  class ApiError extends Error {
    constructor(body, status) {
      const message = body && body.message ? (body.message[lang] || body.message.zh) : t.network_error;
      super(message);
      this.code = (body && body.error) || "network_error";
      this.status = status;
    }
  }

  const delay = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  // --- plumbing ---------------------------------------------------------------------------
  function busy(on, text) {
    // The overlay covers the screen, so nothing can be pressed twice while a step is running.
    $("busy").hidden = !on;
    $("busy-text").textContent = text || t.busy;
  }

  let toastTimer = 0;
  function toast(message, ok) {
    const box = $("toast");
    box.textContent = message;
    box.classList.toggle("ok", Boolean(ok));
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, ok ? 3500 : 6000);
  }

  async function call(path, options) {
    const opts = options || {};
    const init = { method: opts.body || opts.form ? "POST" : "GET", headers: { "X-CSRF-Token": config.csrf }, credentials: "same-origin" };
    if (opts.form) init.body = opts.form;
    else if (opts.body) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(opts.body); }
    if (!opts.quiet) busy(true, opts.busyText);
    try {
      let response;
      try { response = await fetch(path + query, init); } catch (e) { throw new ApiError(null, 0); }
      const data = await response.json().catch(() => ({}));
      if (!response.ok) throw new ApiError(data, response.status);
      view = data;
      return data;
    } finally {
      if (!opts.quiet) busy(false);
    }
  }

  async function refresh() {
    try { await call("/api/state", { quiet: true }); } catch (e) { toast(e.message); }
    render();
  }

  function simFace() {
    return { mode: document.querySelector("input[name='sim-face']:checked").value };
  }

  // --- screens ----------------------------------------------------------------------------
  function show(name) {
    if (name !== $("phone").dataset.screen && $("toast").classList.contains("ok")) $("toast").hidden = true;
    document.querySelectorAll(".screen").forEach((s) => { s.hidden = s.id !== "screen-" + name; });
    $("phone").dataset.screen = name;
    $("appbar-title").textContent = TITLES[name] || t.title;
    $("back").hidden = name !== "scan";
  }

  function render() {
    if (!view) return show("loading");
    $("sim-place").value = view.place || "";
    if (!view.card) return show("apply");
    renderCard(view.card);
    if (view.certificate) return renderCertificate(view.certificate);
    const login = view.login;
    if (!login) return show(wantScan ? "scan" : "home");
    if (login.outcome) return renderOutcome(login);
    if (!login.number_matched) return renderNumber(login);
    if (!login.account_key) return renderRequest(login);
    if (!login.face_passed) return renderFace(login);
    return renderConfirm(login);
  }

  function renderCard(card) {
    $("card-name").textContent = card.name_masked;
    $("card-id").textContent = card.id_number_masked;
    $("card-no").textContent = card.card_no_masked;
    const status = card.status || "";
    $("card-status").hidden = !status;
    $("card-status").textContent = t["status_" + status] || status;
    $("card-status").classList.toggle("inactive", status !== "active");
    const problem = card.problem && (card.problem[lang] || card.problem.zh);
    $("card-problem").hidden = !problem;
    $("card-problem").textContent = problem || "";
    $("broker-line").textContent = t.broker + view.broker;
  }

  function fill(prefix, login) {
    $(prefix + "-ip").textContent = login.ip;
    $(prefix + "-place").textContent = login.place;
    $(prefix + "-browser").textContent = login.browser + " / " + login.os;
    $(prefix + "-time").textContent = login.requested_at;
    $(prefix + "-warning").hidden = !login.place_warning;
    $(prefix + "-warning-text").textContent = login.place_warning;
  }

  function renderRequest(login) {
    setFace("idle", t.face_hint);
    $("req-portal").textContent = login.portal;
    $("req-identity").textContent = login.identity;
    fill("req", login);
    const list = $("accounts");
    list.replaceChildren();
    let group = "";
    if (!login.accounts.some((a) => a.key === chosenKey)) chosenKey = login.accounts.length === 1 ? login.accounts[0].key : "";
    login.accounts.forEach((account) => {
      if (account.group !== group) {
        group = account.group;
        const heading = document.createElement("p");
        heading.className = "account-group";
        heading.textContent = account.group_label;
        list.append(heading);
      }
      list.append(accountButton(account));
    });
    $("account-next").disabled = !chosenKey;
    show("request");
  }

  function accountButton(account) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "account";
    button.setAttribute("role", "radio");
    button.setAttribute("aria-checked", String(account.key === chosenKey));
    button.dataset.key = account.key;
    const radio = document.createElement("span");
    radio.className = "account-radio";
    const body = document.createElement("span");
    body.className = "account-body";
    const title = document.createElement("span");
    title.className = "account-title";
    title.textContent = account.role === "personal" ? t.personal_account + "（" + account.company + "）" : account.company || account.credit_code;
    body.append(title);
    if (account.credit_code) {
      const code = document.createElement("span");
      code.className = "account-code";
      code.textContent = t.credit_code + " " + account.credit_code;
      body.append(code);
    }
    const role = document.createElement("span");
    role.className = "account-role " + account.group;
    role.textContent = account.role_label;
    button.append(radio, body, role);
    button.addEventListener("click", () => {
      chosenKey = account.key;
      document.querySelectorAll(".account").forEach((b) => b.setAttribute("aria-checked", String(b.dataset.key === chosenKey)));
      $("account-next").disabled = false;
    });
    return button;
  }

  function renderFace(login) {
    show("face");
    if ($("face").dataset.state === "idle") runLoginFace(login);
  }

  function setFace(state, text, sub) {
    $("face").dataset.state = state;
    $("face-text").textContent = text;
    $("face-sub").textContent = sub || "";
    $("face-retry").hidden = state !== "failed";
  }

  async function faceAnimation(request) {
    setFace("running", t.face_running, t.face_hint);
    const [outcome] = await Promise.allSettled([request(), delay(FACE_ANIMATION_MS)]);
    return outcome;
  }

  async function runLoginFace() {
    faceFor = "login";
    const outcome = await faceAnimation(() => call("/api/face", { body: simFace(), quiet: true }));
    if (outcome.status === "fulfilled") {
      setFace("passed", t.face_passed);
      await delay(500);
      setFace("idle", t.face_hint);
      return render();
    }
    const error = outcome.reason;
    if (error.code === "face_check_failed") {
      await refresh();
      const left = view && view.login ? view.login.failures_left : 0;
      show("face");
      return setFace("failed", error.message, t.face_failed_left.replace("{n}", left));
    }
    setFace("idle", t.face_hint);
    toast(error.message);
    return refresh();
  }

  // Number matching: three numbers, the user taps the one the computer shows.
  function renderNumber(login) {
    $("number-choices").replaceChildren(...login.number_choices.map((number) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button number-choice";
      button.textContent = number;
      button.addEventListener("click", () => attempt(() => call("/api/number", { body: { number } })));
      return button;
    }));
    show("number");
  }

  function renderConfirm(login) {
    const portal = document.createElement("span");
    portal.className = "confirm-portal";
    portal.textContent = "“" + login.portal + "”";
    $("confirm-question").replaceChildren(t.confirm_lead, portal);
    $("confirm-release").textContent = login.release;
    const account = login.account;
    const lines = [];
    if (account) {
      lines.push(account.role === "personal" ? account.group_label : account.group_label + " · " + account.role_label);
      if (account.company) lines.push(account.company);
    }
    $("confirm-account").replaceChildren(...lines.map((text, i) => {
      const span = document.createElement("span");
      span.textContent = text;
      if (i > 0 && account.credit_code) span.title = account.credit_code;
      return span;
    }));
    fill("confirm", login);
    show("confirm");
  }

  function renderCertificate(cert) {
    $("cert-outcome").dataset.outcome = cert.ok ? "confirmed" : "failed";
    $("cert-heading").textContent = cert.ok ? cert.lines[0] : t.cert_failed;
    $("cert-detail").textContent = cert.ok ? t.cert_ok_hint : (cert.message[lang] || cert.message.zh);
    const list = $("cert-lines");
    list.replaceChildren(...(cert.lines || []).slice(1).map((line) => {
      const item = document.createElement("li");
      item.textContent = line;
      return item;
    }));
    list.hidden = !cert.ok;
    show("certificate");
  }

  function renderOutcome(login) {
    setFace("idle", t.face_hint);
    $("outcome").dataset.outcome = login.outcome;
    const titles = { confirmed: t.outcome_confirmed, rejected: t.outcome_rejected, failed: t.outcome_failed };
    $("outcome-title").textContent = titles[login.outcome] || t.outcome_failed;
    let detail = login.outcome === "confirmed" ? t.outcome_confirmed_hint : t.outcome_rejected_hint;
    if (login.outcome === "failed") detail = (login.failure && (login.failure[lang] || login.failure.zh)) || "";
    $("outcome-detail").textContent = detail;
    const account = login.account;
    $("outcome-portal").textContent = "“" + login.portal + "”" + (account && login.outcome === "confirmed"
      ? " · " + (account.role === "personal" ? account.group_label : account.role_label + (account.company ? " · " + account.company : ""))
      : "");
    show("outcome");
  }

  // --- actions ----------------------------------------------------------------------------
  async function attempt(action) {
    try {
      await action();
    } catch (error) {
      toast(error.message);
      await refresh();
      return;
    }
    render();
  }

  async function upload(file) {
    if (!file) return;
    if (file.size > config.max_image_bytes) { toast(t.network_error); return; }
    const preview = $("qr-preview");
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    const form = new FormData();
    form.append("image", file, file.name || "qr.png");
    await attempt(async () => {
      await call("/api/scan", { form, busyText: t.busy_scan });
      wantScan = false;
    });
  }

  async function scanText(text) {
    if (!text.trim()) return;
    await attempt(async () => {
      await call("/api/scan", { body: { text: text.trim() }, busyText: t.busy_scan });
      wantScan = false;
      $("qr-text").value = "";
    });
  }

  async function applyForCard(event) {
    event.preventDefault();
    if (!$("apply-agree").checked) { toast(t.apply_agree_first); return; }
    const body = { name: $("apply-name").value, id_number: $("apply-id").value, phone: $("apply-phone").value, face: simFace() };
    faceFor = "apply";
    show("face");
    const outcome = await faceAnimation(() => call("/api/ecard", { body, quiet: true }));
    if (outcome.status === "fulfilled") {
      setFace("passed", t.face_passed);
      await delay(500);
      setFace("idle", t.face_hint);
      render();
      toast(t.apply_done, true);
      return;
    }
    setFace("idle", t.face_hint);
    show("apply");
    toast(outcome.reason.message);
  }

  function reject() {
    if (faceFor === "apply" && $("phone").dataset.screen === "face") { setFace("idle", t.face_hint); show("apply"); return; }
    attempt(() => call("/api/reject", { body: {} }));
  }

  function wire() {
    $("apply-form").addEventListener("submit", applyForCard);
    $("scan-button").addEventListener("click", () => { wantScan = true; render(); });
    $("back").addEventListener("click", () => { wantScan = false; render(); });
    $("qr-file").addEventListener("change", (e) => { upload(e.target.files[0]); e.target.value = ""; });
    $("text-form").addEventListener("submit", (e) => { e.preventDefault(); scanText($("qr-text").value); });
    const zone = $("dropzone");
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("drag"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("drag"));
    zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("drag"); upload(e.dataTransfer.files[0]); });
    zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("qr-file").click(); } });
    document.addEventListener("paste", onPaste);
    $("account-next").addEventListener("click", () => attempt(() => call("/api/account", { body: { key: chosenKey } })));
    $("face-retry").addEventListener("click", () => { setFace("idle", t.face_hint); runLoginFace(); });
    $("confirm-button").addEventListener("click", () => attempt(() => call("/api/confirm", { body: {} })));
    document.querySelectorAll("[data-action='reject']").forEach((b) => b.addEventListener("click", reject));
    $("cert-home").addEventListener("click", () => attempt(async () => { wantScan = false; await call("/api/done", { body: {} }); }));
    $("outcome-home").addEventListener("click", () => attempt(async () => { await call("/api/done", { body: {} }); chosenKey = ""; }));
    $("place-form").addEventListener("submit", (e) => {
      e.preventDefault();
      attempt(async () => { await call("/api/place", { body: { place: $("sim-place").value } }); toast(t.sim_place_saved, true); });
    });
  }

  function onPaste(event) {
    const screen = $("phone").dataset.screen;
    if (screen !== "scan" && screen !== "home") return;
    if (event.target && event.target.id === "qr-text") return;
    const items = Array.from((event.clipboardData && event.clipboardData.items) || []);
    const image = items.find((item) => item.kind === "file" && item.type.startsWith("image/"));
    if (image) { event.preventDefault(); upload(image.getAsFile()); return; }
    const text = event.clipboardData ? event.clipboardData.getData("text") : "";
    if (text) { event.preventDefault(); scanText(text); }
  }

  wire();
  refresh();
})();
