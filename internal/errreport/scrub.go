package errreport

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/getsentry/sentry-go"
)

// redacted replaces what the scrubber hides; the same as
// config.Redacted, so a report reads like the logs.
const redacted = "[redacted]"

// scrubber hides secrets in the text of a report: first every configured
// secret value (config.Config.Scrub), then anything shaped like a
// credential, named or not. It is the last line of defence for error
// texts that quote a request, a URL or a configuration: code should not
// put secrets in errors in the first place.
type scrubber struct {
	values   func(string) string
	patterns []pattern
}

// pattern is one rule: what to replace, with what, and the text (in
// lower case) without which it cannot match, checked first because a
// report's many short strings ("linux", "amd64") match none.
type pattern struct {
	re    *regexp.Regexp
	with  string
	needs []string
	// named, when set, limits the rule to matches whose first group
	// (a name) it matches: cheaper than one expression holding both.
	named *regexp.Regexp
}

// credentialNames are the names whose value, in name=value or in a JSON
// "name": "value", is a secret. Matched anywhere in a longer name
// (reset_token, client_secret, X-Amz-Credential).
const credentialNames = `password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|signature|session[_-]?id|cookie|dsn`

// headerNames are the request headers whose whole value is a credential,
// as Go prints them ("Cookie: …", map[Cookie:[…]], "Cookie":[…]): in
// their canonical case, so the words in an error message ("session
// cookie: too large") are left alone.
const headerNames = `Authorization|Proxy-Authorization|Cookie|Set-Cookie|X-Api-Key|X-Auth-Token|X-Csrf-Token`

func newScrubber(values func(string) string, secretNames []string) *scrubber {
	names := credentialNames
	for _, n := range secretNames {
		if n != "" {
			names += "|" + regexp.QuoteMeta(n)
		}
	}
	s := &scrubber{values: values}
	for _, p := range []struct {
		expr, with string
		needs      []string
	}{
		// A whole header line, or a header in a printed http.Header.
		{`\b(` + headerNames + `)("?\s*:\s*)(\[[^\]]*\]|[^\r\n]*)`, "$1$2" + redacted, []string{"authorization", "cookie", "x-api-key", "x-auth-token", "x-csrf-token"}},
		// Authorization schemes wherever they appear.
		{`(?i)\b(bearer|basic|digest)(\s+)[A-Za-z0-9._~+/=-]{6,}`, "$1$2" + redacted, []string{"bearer", "basic", "digest"}},
		// The password in a URL's user info.
		{`(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@`, "$1" + redacted + "@", []string{"://"}},
		// Launchkit's own API keys (lk_ and 43 characters), named or not.
		{`\blk_[A-Za-z0-9_-]{20,}`, redacted, []string{"lk_"}},
		// The account links mailed to users: the token is the path's end.
		{`(/user/(?:reset-password|confirm-email)/)[^\s/?#"']+`, "$1" + redacted, []string{"/user/"}},
		// The databases' errors quoting the value at fault (an email, a
		// token's hash, what a client sent): MySQL's duplicate entries
		// and bad values ('' is a quote inside), PostgreSQL's bad input
		// and its detail line.
		{`(?i)\b(duplicate entry |incorrect [\w ]+ value: )'(?:[^']|'')*'`, "$1'" + redacted + "'", []string{"duplicate entry", "incorrect "}},
		{`(?i)\b(invalid input syntax for (?:type )?[\w ]+: )"(?:[^"\\]|\\.)*"`, `$1"` + redacted + `"`, []string{"invalid input syntax"}},
		{`\b(Key \([^)]*\)=\().*?(\) (?:already exists|is not present|conflicts))`, "$1" + redacted + "$2", []string{"key ("}},
		// Email addresses (a mail task's refused recipient, a duplicate
		// account): personal data, and the report's user ID says who.
		{`\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b`, redacted, []string{"@"}},
	} {
		s.patterns = append(s.patterns, pattern{re: regexp.MustCompile(p.expr), with: p.with, needs: p.needs})
	}
	// name=value (a query, a form, a cookie, a DSN in a config dump)
	// and "name": "value" (JSON), for the credential names.
	s.patterns = append(s.patterns, pattern{
		re:    regexp.MustCompile(`([\w.-]+)(\s*=\s*|"\s*:\s*"?)([^\s"'&;,()\[\]{}<>]+)`),
		with:  "$1$2" + redacted,
		needs: []string{"=", `":`},
		named: regexp.MustCompile(`(?i)` + names),
	})
	return s
}

// text returns s without secrets.
func (s *scrubber) text(t string) string {
	if t == "" {
		return t
	}
	if s.values != nil {
		t = s.values(t)
	}
	lower := strings.ToLower(t)
	for _, p := range s.patterns {
		if p.applies(lower) {
			t = p.replace(t)
		}
	}
	return t
}

// replace applies the rule to t.
func (p pattern) replace(t string) string {
	if p.named == nil {
		return p.re.ReplaceAllString(t, p.with)
	}
	var b []byte
	last := 0
	for _, m := range p.re.FindAllStringSubmatchIndex(t, -1) {
		if !p.named.MatchString(t[m[2]:m[3]]) {
			continue
		}
		b = append(b, t[last:m[0]]...)
		b = p.re.ExpandString(b, p.with, t, m)
		last = m[1]
	}
	if b == nil {
		return t
	}
	return string(append(b, t[last:]...))
}

// applies reports whether the rule can match a text, given in lower case.
func (p pattern) applies(lower string) bool {
	for _, n := range p.needs {
		if strings.Contains(lower, n) {
			return true
		}
	}
	return false
}

// event scrubs every part of a report that carries text from the error
// or its surroundings, and drops the parts that should never be sent.
func (s *scrubber) event(e *sentry.Event) {
	e.Message = s.text(e.Message)
	e.Transaction = s.text(e.Transaction)
	for i := range e.Exception {
		x := &e.Exception[i]
		x.Value = s.text(x.Value)
		x.Type = s.text(x.Type)
		s.stack(x.Stacktrace)
	}
	for i := range e.Threads {
		s.stack(e.Threads[i].Stacktrace)
	}
	for _, b := range e.Breadcrumbs {
		b.Message = s.text(b.Message)
		b.Data = s.anyMap(b.Data)
	}
	for k, v := range e.Tags {
		e.Tags[k] = s.text(v)
	}
	for k, c := range e.Contexts {
		e.Contexts[k] = s.anyMap(c)
	}
	for i, f := range e.Fingerprint {
		e.Fingerprint[i] = s.text(f)
	}
	// Who: the ID alone. What the request carried: nothing (its URL
	// may hold a token, its headers cookies, its body a password).
	e.User = sentry.User{ID: e.User.ID}
	e.Request = nil
	e.Attachments = nil
}

// stack keeps each frame's place (function, file, line) and drops what
// could quote data: its variables and its source lines.
func (s *scrubber) stack(st *sentry.Stacktrace) {
	if st == nil {
		return
	}
	for i := range st.Frames {
		f := &st.Frames[i]
		f.Vars = nil
		f.PreContext, f.ContextLine, f.PostContext = nil, "", nil
	}
}

func (s *scrubber) anyMap(m map[string]any) map[string]any {
	for k, v := range m {
		m[k] = s.value(v)
	}
	return m
}

// value scrubs the strings in v, however nested in maps and slices.
// Numbers and booleans carry no text. Anything else (the SDK's own
// types: a trace ID) is kept when its JSON holds no secret, else sent as
// its scrubbed JSON text.
func (s *scrubber) value(v any) any {
	switch v := v.(type) {
	case nil, bool, int, int64, uint64, float64:
		return v
	case string:
		return s.text(v)
	case []string:
		for i := range v {
			v[i] = s.text(v[i])
		}
		return v
	case map[string]string:
		for k := range v {
			v[k] = s.text(v[k])
		}
		return v
	case map[string]any:
		return s.anyMap(v)
	case []any:
		for i := range v {
			v[i] = s.value(v[i])
		}
		return v
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return redacted // cannot be read, so cannot be checked
	}
	if clean := s.text(string(raw)); clean != string(raw) {
		return clean
	}
	return v
}
