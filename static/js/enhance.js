// enhance.js: what the pages need beside htmx (htmx.min.js, configured by
// the htmx-config meta tag in base.html). Every page works without either;
// with them, links and forms are boosted (htmx swaps <body>), and this file
// keeps the page right after a swap:
//   - <body>'s class (the layout: app, auth or public) follows the new page,
//     since htmx swaps only what is inside <body>;
//   - after a page swap, focus goes to <main id="main"> (or to the first
//     field marked aria-invalid there), so a screen reader starts at the
//     new content, as after a page load;
//   - after a form is swapped alone (the server's answer to a refused form,
//     see internal/web/htmx.go), focus goes to its first invalid field;
//   - Back and Forward load the page from the server;
//   - an answer that is not an HTML page (a download, plain text) is loaded
//     by the browser itself rather than swapped in.
// No inline code, no eval: it runs under the site's strict CSP.
(function () {
  'use strict';

  var doc = document;
  var nextBodyClass = null;

  function focusOn(el, preventScroll) {
    if (!el) return;
    if (!el.matches('a[href], button, input, select, textarea, [tabindex]')) {
      el.setAttribute('tabindex', '-1');
    }
    el.focus({ preventScroll: !!preventScroll });
  }

  // The field a problem is about: the first marked aria-invalid, else the
  // field an error message follows, else the message itself.
  function firstProblem(root) {
    var field = root.querySelector('[aria-invalid="true"]');
    if (field) return field;
    var message = root.querySelector('.field-error, [role="alert"]');
    if (!message) return null;
    var wrapper = message.closest('.field');
    field = wrapper && wrapper.querySelector('input:not([type=hidden]), select, textarea');
    for (var el = message.previousElementSibling; !field && el; el = el.previousElementSibling) {
      if (el.matches('input:not([type=hidden]), select, textarea')) field = el;
    }
    return field || message;
  }

  function mainElement() {
    return doc.getElementById('main') || doc.querySelector('main');
  }

  // Back and Forward: htmx keeps no copy of a page (historyCacheSize 0 in
  // the htmx-config meta tag: a signed-in page is not written to the
  // browser's storage), so every step is a miss; load the page whole, as
  // the browser does without htmx (what htmx's refreshOnHistoryMiss does).
  doc.addEventListener('htmx:historyCacheMiss', function (e) {
    e.preventDefault();
    window.location.reload();
  });

  doc.addEventListener('htmx:beforeSwap', function (e) {
    var d = e.detail;
    if (!d.shouldSwap || !d.xhr) return;
    var type = d.xhr.getResponseHeader('Content-Type') || '';
    var disposition = d.xhr.getResponseHeader('Content-Disposition') || '';
    var verb = d.requestConfig && d.requestConfig.verb;
    if (d.boosted && verb === 'get' && (type.indexOf('text/html') !== 0 || /^\s*attachment/i.test(disposition))) {
      d.shouldSwap = false;
      window.location.assign((d.pathInfo && (d.pathInfo.responsePath || d.pathInfo.requestPath)) || window.location.href);
      return;
    }
    nextBodyClass = null;
    if (d.target === doc.body && typeof d.serverResponse === 'string') {
      var page = new DOMParser().parseFromString(d.serverResponse, 'text/html');
      if (page.body) nextBodyClass = page.body.getAttribute('class') || '';
    }
  });

  doc.addEventListener('htmx:afterSwap', function (e) {
    if (e.target === doc.body && nextBodyClass !== null) {
      if (nextBodyClass) doc.body.setAttribute('class', nextBodyClass);
      else doc.body.removeAttribute('class');
      nextBodyClass = null;
    }
  });

  doc.addEventListener('htmx:afterSettle', function (e) {
    var el = e.target;
    if (el === doc.body) {
      var main = mainElement();
      if (main) focusOn(main.querySelector('[aria-invalid="true"]') || main, true);
      return;
    }
    if (el.tagName === 'FORM') {
      var problem = firstProblem(el);
      if (problem) focusOn(problem, false);
      return;
    }
    // A part of the page was swapped (the admin users table) and took the
    // focused link with it: focus the new part, not nowhere.
    if (!doc.activeElement || doc.activeElement === doc.body) focusOn(el, true);
  });
})();
