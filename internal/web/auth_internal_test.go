package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// browserTarget is where a browser goes when told "Location: loc" by a
// page of https://site.example: it drops tabs and newlines and reads a
// backslash as a slash (the WHATWG URL rules), then resolves loc.
func browserTarget(loc string) (*url.URL, error) {
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(loc)
	base, _ := url.Parse("https://site.example/user/sign-in")
	ref, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}

// FuzzLocalPath: whatever next is, the redirect the sign-in page sends
// (localPath, then http.Redirect) keeps a browser on the site.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{
		"/", "/user/profile?x=1", "//evil.example", "/\\evil.example", "/./\\evil.example", "/.\\evil.example",
		"/\t/evil.example", "/%2F/evil.example", "/..//evil.example", "https://evil.example", "\\\\evil.example",
		"/a/../\\evil.example", "/ /evil.example", "/\u3000/evil.example", "/?//evil", "/#//evil",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := localPath(next)
		rec := httptest.NewRecorder()
		http.Redirect(rec, httptest.NewRequest(http.MethodPost, "/user/sign-in", nil), got, http.StatusSeeOther)
		loc := rec.Header().Get("Location")
		u, err := browserTarget(loc)
		if err != nil {
			t.Fatalf("localPath(%q) = %q, redirected to %q, which a browser cannot follow: %v", next, got, loc, err)
		}
		if u.Scheme != "https" || u.Host != "site.example" {
			t.Fatalf("localPath(%q) = %q: Location %q takes a browser to %s", next, got, loc, u)
		}
	})
}
