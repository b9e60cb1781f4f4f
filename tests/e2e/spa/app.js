// A browser relying party built only with oidc-client-ts: discovery, the authorization code
// flow with PKCE (the redirect goes to authsvc's QR page), the token request and userinfo —
// all cross-origin fetches from this page's own origin, so they work only if authsvc answers CORS.
(async function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const config = await (await fetch("/config.json")).json();
  const manager = new oidc.UserManager({
    authority: config.authority,
    client_id: config.client_id,
    redirect_uri: location.origin + "/callback",
    response_type: "code",
    scope: config.scope,
    loadUserInfo: true,
    userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
  });

  function fail(error) {
    $("error").hidden = false;
    $("error").textContent = "登录失败：" + (error && error.message ? error.message : String(error));
    document.body.dataset.state = "error";
  }

  async function show(user) {
    $("status").textContent = "已登录";
    $("user").hidden = false;
    $("name").textContent = user.profile.name || "";
    $("sub").textContent = user.profile.sub;
    const metadata = await manager.metadataService.getMetadata();
    const info = await fetch(metadata.userinfo_endpoint, {
      headers: { Authorization: "Bearer " + user.access_token },
    });
    $("userinfo").textContent = JSON.stringify(await info.json());
    const keys = await (await fetch(metadata.jwks_uri)).json();
    $("jwks").textContent = String(keys.keys.length);
    document.body.dataset.state = "signed-in";
  }

  $("login").addEventListener("click", () => {
    document.body.dataset.state = "redirecting";
    manager.signinRedirect().catch(fail);
  });
  try {
    if (location.pathname === "/callback") {
      const user = await manager.signinRedirectCallback();
      history.replaceState(null, "", "/");
      await show(user);
    } else {
      $("login").hidden = false;
      document.body.dataset.state = "ready";
    }
  } catch (error) {
    fail(error);
  }
})();
