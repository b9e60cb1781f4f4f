// 人社网上服务大厅: login modal (authsvc QR page in an iframe) and confirm dialogs.
// No inline scripts anywhere: the CSP is script-src 'self'.
(function () {
  "use strict";
  var body = document.body;
  var issuerOrigin = body.getAttribute("data-issuer-origin");
  var callbackPath = body.getAttribute("data-callback-path");
  var modal = document.getElementById("login-modal");
  var frame = document.getElementById("login-frame");

  // The identity switch (法人 / 办事员 / 个人) is authsvc's, below the QR inside the frame.
  function selectIdentity(identity) {
    if (!modal) { return; }
    frame.src = "/auth/login?identity=" + encodeURIComponent(identity) + "&display=embedded";
  }

  function openModal(identity) {
    modal.hidden = false;
    selectIdentity(identity);
  }

  function closeModal() {
    modal.hidden = true;
    frame.src = "about:blank";
  }

  if (modal) {
    document.querySelectorAll("[data-login]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        openModal(link.getAttribute("data-login"));
      });
    });
    modal.querySelector("[data-close]").addEventListener("click", closeModal);
    modal.addEventListener("click", function (event) { if (event.target === modal) { closeModal(); } });
    document.addEventListener("keydown", function (event) { if (event.key === "Escape") { closeModal(); } });
  }

  // authsvc's embedded QR page posts {type: "qrauth:confirmed", redirect} to this window.
  // Accept it only from authsvc's origin, and only towards this portal's own callback.
  window.addEventListener("message", function (event) {
    if (event.origin !== issuerOrigin) { return; }
    var data = event.data;
    if (!data || data.type !== "qrauth:confirmed" || typeof data.redirect !== "string") { return; }
    var target;
    try { target = new URL(data.redirect); } catch (e) { return; }
    var own = window.location.origin + callbackPath;
    if (target.origin !== window.location.origin || target.pathname !== callbackPath) { return; }
    if (data.redirect.indexOf(own + "?") !== 0) { return; }
    window.top.location.assign(target.href);
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // Forms that upload or run the core system's checks: say so while the answer is on its way,
  // and do not send twice. (Buttons stay enabled: a disabled submitter would drop its value.)
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    var status = document.createElement("p");
    status.className = "muted small";
    status.setAttribute("role", "status");
    form.appendChild(status);
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("aria-busy") === "true") { event.preventDefault(); return; }
      form.setAttribute("aria-busy", "true");
      status.textContent = document.documentElement.lang === "en" ? "Submitting…" : "正在提交，请稍候…";
    });
  });
}());
