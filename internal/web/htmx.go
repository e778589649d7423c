package web

import (
	"bytes"
	"net/http"
)

// The pages are plain HTML that works without JavaScript; with it, htmx
// (static/js/htmx.min.js, configured in templates/layouts/base.html)
// boosts links and forms: it fetches the page by XMLHttpRequest and swaps
// the <body>. The server answers such requests with the same whole page,
// and adds a few response headers where a better swap is possible. See
// docs/security.md for how this fits the Content-Security-Policy.

// Request and response headers of htmx (https://htmx.org/reference/).
const (
	hxRequest  = "HX-Request"  // "true" on every request htmx makes
	hxBoosted  = "HX-Boosted"  // "true" when a boosted link or form made it
	hxRetarget = "HX-Retarget" // a CSS selector: swap this element instead
	hxReswap   = "HX-Reswap"   // how to swap it
	hxReselect = "HX-Reselect" // which part of the answer to swap in
	hxPushURL  = "HX-Push-Url" // "false": leave the address bar and history alone
	hxRedirect = "HX-Redirect" // load this address as a whole page
)

// pageForms names the form of each page that answers a refused form
// with itself again (422 and the other 4xx statuses, its fields marked),
// by the ids of the UI vocabulary.
var pageForms = map[string]string{
	"pages/sign-in.html":             "sign-in-form",
	"pages/register.html":            "register-form",
	"pages/forgot-password.html":     "forgot-password-form",
	"pages/reset-password.html":      "reset-password-form",
	"pages/resend-confirmation.html": "resend-confirmation-form",
	"pages/profile.html":             "profile-form",
	"pages/change-password.html":     "change-password-form",
	"pages/apikeys.html":             "apikey-form",
	"pages/admin-user.html":          "user-form",
}

// actionForms names the form of a page with more than one form by the
// address it posts to: the profile's sign-out of the other sessions is
// refused on the profile page, whose own form is the name's.
var actionForms = map[string]string{
	"/user/sign-out-others": "sign-out-others-form",
}

// isHtmx reports whether htmx made r.
func isHtmx(r *http.Request) bool { return r.Header.Get(hxRequest) == "true" }

// isBoosted reports whether a boosted link or form (hx-boost) made r.
func isBoosted(r *http.Request) bool { return isHtmx(r) && r.Header.Get(hxBoosted) == "true" }

// addVary adds name to h's Vary unless it is there.
func addVary(h http.Header, name string) {
	for _, v := range h.Values("Vary") {
		if v == name {
			return
		}
	}
	h.Add("Vary", name)
}

// swapFormOnly sets, on the answer to a boosted form post that page
// refuses (status 4xx, body the page again with the form's errors), the
// headers that have htmx swap only the form: the rest of the page, what
// the user scrolled to and typed elsewhere, stays, and no history entry is
// added. Without htmx the answer is the same page, and nothing changes.
// It applies only when the body holds the form, by its id.
func swapFormOnly(h http.Header, r *http.Request, status int, page string, body []byte) {
	id := actionForms[r.URL.Path]
	if id == "" {
		id = pageForms[page]
	}
	if id == "" || r.Method != http.MethodPost || status < 400 || status > 499 {
		return
	}
	if !bytes.Contains(body, []byte(`id="`+id+`"`)) {
		return
	}
	addVary(h, hxRequest)
	addVary(h, hxBoosted)
	if !isBoosted(r) {
		return
	}
	h.Set(hxRetarget, "#"+id)
	h.Set(hxReswap, "outerHTML")
	h.Set(hxReselect, "#"+id)
	h.Set(hxPushURL, "false")
}

// wholePage answers a request htmx makes with HX-Redirect to the same
// address, so that the browser loads it as a page of its own: for pages
// that are not this site's HTML layout (asynqmon's single-page app at
// /admin/jobs), which a boosted swap of <body> would break. Other
// requests pass to next.
func wholePage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addVary(w.Header(), hxRequest)
		if isHtmx(r) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.Header().Set(hxRedirect, r.URL.RequestURI())
			w.WriteHeader(http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}
