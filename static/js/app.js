// Launchkit's behaviour on every page, all of it optional (the pages work
// without JavaScript): the theme toggle, and Escape or a click elsewhere
// closing an open menu or drawer. Listeners sit on the document, so
// content htmx swaps in works without binding anything again.
(function () {
  "use strict";
  var root = document.documentElement;
  var themes = ["system", "light", "dark"];

  function theme() {
    var t = root.getAttribute("data-theme");
    return t === "light" || t === "dark" ? t : "system";
  }

  // show unhides the toggles (they are hidden without JavaScript) and
  // says the current choice; CSS shows its icon from data-theme.
  function show() {
    var t = theme();
    document.querySelectorAll("[data-theme-toggle]").forEach(function (b) {
      b.hidden = false;
      b.title = "Theme: " + t;
      var label = b.querySelector("[data-theme-label]");
      if (label) label.textContent = "Theme: " + t;
    });
  }

  function choose(t) {
    if (t === "system") root.removeAttribute("data-theme");
    else root.setAttribute("data-theme", t);
    try {
      if (t === "system") localStorage.removeItem("theme");
      else localStorage.setItem("theme", t);
    } catch (e) { /* storage off: the choice lasts for this page */ }
    show();
  }

  function openMenus() {
    return document.querySelectorAll("details.menu[open], details.drawer[open]");
  }

  document.addEventListener("click", function (e) {
    var toggle = e.target.closest && e.target.closest("[data-theme-toggle]");
    if (toggle) choose(themes[(themes.indexOf(theme()) + 1) % themes.length]);
    openMenus().forEach(function (d) {
      if (!d.contains(e.target)) d.open = false;
    });
  });

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    openMenus().forEach(function (d) {
      var inside = d.contains(document.activeElement);
      d.open = false;
      if (inside) d.querySelector("summary").focus();
    });
  });

  // Content htmx brings in, and a page restored from the back/forward cache.
  document.addEventListener("htmx:load", show);
  window.addEventListener("pageshow", show);
  show();
})();
