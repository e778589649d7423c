// passkeys.js: the browser's half of the passkey ceremonies
// (internal/web/passkeys.go). Each is two posts: begin answers the
// options for navigator.credentials, whose binary fields travel as
// base64url; the browser asks the authenticator; finish gets the answer,
// its binary fields again base64url, and says where to go next.
//   - [data-passkey-add]: the security page's form adding a passkey;
//   - [data-passkey-sign-in]: the sign-in page's button (#passkey-sign-in)
//     and, where the browser offers it, passkeys in the autofill of the
//     field marked autocomplete="… webauthn" (conditional mediation);
//   - [data-passkey-second-step]: the button of the second step of a
//     sign-in.
// Without WebAuthn (window.PublicKeyCredential) nothing is unhidden and
// the [data-passkey-unsupported] notes stay. No inline code, no eval: it
// runs under the site's strict CSP. Listeners sit on the document, so
// pages htmx swaps in work without binding anything again.
(function () {
  'use strict';

  var supported = !!(window.PublicKeyCredential && navigator.credentials);
  var autofill = null; // the AbortController of the pending autofill request
  var finishing = false; // a sign-in's answer is on its way to the site

  function toBytes(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toBase64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      var d = { type: c.type, id: toBytes(c.id) };
      if (c.transports) d.transports = c.transports;
      return d;
    });
  }

  // post sends body as JSON and resolves with the JSON answer, or rejects
  // with the message of the site's error body.
  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.ok) return data;
        var message = data && data.error && data.error.message;
        throw new Error(message || 'The site did not accept this (' + r.status + '). Try again.');
      });
    });
  }

  function credentialJSON(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = toBase64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      if (r.userHandle) out.response.userHandle = toBase64url(r.userHandle);
    }
    return out;
  }

  // What the browser's refusals mean to people.
  function explain(err) {
    if (err && err.name === 'NotAllowedError') return 'The passkey request was cancelled or timed out. Try again.';
    if (err && err.name === 'InvalidStateError') return 'This device already holds a passkey for your account.';
    if (err && err.name === 'SecurityError') return 'Your browser refused: this address is not the site the passkeys are for.';
    return (err && err.message) || 'Something went wrong. Try again.';
  }

  function showError(root, err) {
    var el = root && root.querySelector('[data-passkey-error]');
    if (!el) return;
    el.textContent = explain(err);
    el.hidden = false;
  }

  function clearError(root) {
    var el = root && root.querySelector('[data-passkey-error]');
    if (el) { el.hidden = true; el.textContent = ''; }
  }

  function go(answer) {
    window.location.assign(answer.redirect || '/');
  }

  function stopAutofill() {
    if (autofill) { autofill.abort(); autofill = null; }
  }

  function register(form) {
    var input = form.querySelector('input[name="name"]');
    var name = input ? input.value : '';
    return post('/user/passkeys/register/begin').then(function (options) {
      var pk = options.publicKey;
      pk.challenge = toBytes(pk.challenge);
      pk.user.id = toBytes(pk.user.id);
      pk.excludeCredentials = descriptors(pk.excludeCredentials);
      return navigator.credentials.create({ publicKey: pk });
    }).then(function (cred) {
      return post('/user/passkeys/register/finish', { name: name, credential: credentialJSON(cred) });
    });
  }

  // signIn runs an assertion: begin and finish are the two URLs, and
  // mediation "conditional" for the autofill.
  function signIn(begin, finish, next, mediation, signal) {
    return post(begin).then(function (options) {
      var pk = options.publicKey;
      pk.challenge = toBytes(pk.challenge);
      pk.allowCredentials = descriptors(pk.allowCredentials);
      var req = { publicKey: pk };
      if (mediation) req.mediation = mediation;
      if (signal) req.signal = signal;
      return navigator.credentials.get(req);
    }).then(function (cred) {
      if (!cred) throw new Error('No passkey was chosen.');
      // A request given up for another (the button pressed while the
      // autofill was pending) does not send its answer: the site keeps
      // one ceremony per browser, and the newer one is it.
      if (signal && signal.aborted) throw new DOMException('Replaced by another passkey request.', 'AbortError');
      finishing = true;
      return post(finish, { next: next, credential: credentialJSON(cred) }).then(function (answer) {
        return answer;
      }, function (err) {
        finishing = false;
        throw err;
      });
    });
  }

  function nextOf(root) {
    var form = root.ownerDocument.getElementById('sign-in-form');
    var next = form && form.querySelector('input[name="next"]');
    return next ? next.value : '';
  }

  function startAutofill(root) {
    var field = document.querySelector('input[autocomplete$="webauthn"]');
    if (!field || !PublicKeyCredential.isConditionalMediationAvailable) return;
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (!ok) return;
      stopAutofill();
      var controller = new AbortController();
      autofill = controller;
      signIn('/user/sign-in/passkey/begin', '/user/sign-in/passkey/finish', nextOf(root), 'conditional', controller.signal)
        .then(go, function (err) {
          if (controller.signal.aborted || (err && err.name === 'AbortError')) return;
          showError(root, err);
        });
    }).catch(function () {});
  }

  function setup() {
    if (!supported) return;
    document.querySelectorAll('[data-passkey-unsupported]').forEach(function (el) { el.hidden = true; });
    document.querySelectorAll('[data-passkey-add], [data-passkey-sign-in], [data-passkey-second-step]').forEach(function (el) {
      el.hidden = false;
    });
    var signInRoot = document.querySelector('[data-passkey-sign-in]');
    if (signInRoot) startAutofill(signInRoot);
    else stopAutofill();
  }

  document.addEventListener('submit', function (e) {
    var form = e.target.closest && e.target.closest('[data-passkey-add]');
    if (!form || !supported) return;
    e.preventDefault();
    var button = form.querySelector('button[type="submit"]');
    clearError(form);
    if (button) button.disabled = true;
    register(form).then(go, function (err) {
      if (button) button.disabled = false;
      showError(form, err);
    });
  });

  document.addEventListener('click', function (e) {
    var button = e.target.closest && e.target.closest('#passkey-sign-in, #passkey-second-step');
    if (!button || !supported) return;
    e.preventDefault();
    if (finishing) return; // the autofill's passkey is signing in already
    var root = button.closest('[data-passkey-sign-in], [data-passkey-second-step]');
    var second = button.id === 'passkey-second-step';
    stopAutofill();
    clearError(root);
    button.disabled = true;
    var run = second
      ? signIn('/user/sign-in/two-factor/passkey/begin', '/user/sign-in/two-factor/passkey/finish', '')
      : signIn('/user/sign-in/passkey/begin', '/user/sign-in/passkey/finish', nextOf(root));
    run.then(go, function (err) {
      button.disabled = false;
      showError(root, err);
    });
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setup);
  else setup();
  document.addEventListener('htmx:afterSettle', setup);
})();
