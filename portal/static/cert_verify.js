// 电子证明验证: the token is after '#', so it never reaches a server log; it is posted once.
(function () {
  "use strict";
  var box = document.getElementById("cert-verify");
  if (!box) { return; }
  var en = box.getAttribute("data-lang") === "en";
  function show(state) {
    box.querySelectorAll("[data-state]").forEach(function (el) {
      el.hidden = el.getAttribute("data-state") !== state;
    });
  }
  function fact(dl, label, value) {
    var dt = document.createElement("dt"); dt.textContent = label;
    var dd = document.createElement("dd"); dd.textContent = value;
    dl.appendChild(dt); dl.appendChild(dd);
  }
  function when(seconds) { return new Date(seconds * 1000).toLocaleString(en ? "en-GB" : "zh-CN"); }
  var token = window.location.hash.slice(1);
  fetch("/api/cert/verify", {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": box.getAttribute("data-csrf")},
    body: JSON.stringify({token: token})
  }).then(function (r) { return r.json(); }).then(function (body) {
    if (!body.ok) {
      show("error");
      box.querySelector("[data-message]").textContent = en ? body.message.en : body.message.zh;
      box.querySelector("[data-code]").textContent = body.error;
      return;
    }
    var c = body.claims, cert = c.cert, dl = box.querySelector("[data-facts]");
    fact(dl, en ? "Document" : "证明名称", en ? cert.title.en : cert.title.zh);
    fact(dl, en ? "Number" : "证明编号", c.jti);
    fact(dl, en ? "Holder" : "单位名称", cert.holder.name + " (" + cert.holder.id + ")");
    (cert.facts || []).forEach(function (f) { fact(dl, en ? f.label.en : f.label.zh, f.value); });
    fact(dl, en ? "Issued" : "出具时间", when(c.iat));
    fact(dl, en ? "Valid until" : "有效期至", when(c.exp));
    dl.hidden = false;
    show("ok");
  }).catch(function () { show("error"); });
}());
