// The security log as people read it (internal/seclog): the account's
// recent activity on /user/security, one user's events on their admin
// page, and every event, filtered and paged, on /admin/security-events.

package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/users"
)

// Lengths of the lists of events: an account's recent activity (its
// security page, its admin page) and a page of /admin/security-events.
const (
	recentEvents   = 20
	eventsPerPage  = 50
	maxEventSearch = 254 // the longest address an account has
)

// eventRow is one event as the pages show it.
type eventRow struct {
	// What is the kind's label ("Signed in"); Failed marks the events
	// that are a refusal or a warning (a failed sign-in, a limit hit).
	What   string
	Failed bool
	When   time.Time
	// Where is the client's address, Device a short reading of its user
	// agent ("Firefox on Linux") and Agent the whole of it.
	Where, Device, Agent string
	// How is the method in words ("Password", "Emailed link"), "" if none.
	How    string
	Detail string
	// User is the account's address ("" when none is known, or it was
	// deleted) and UserID its id; By is the admin who did it, if not
	// the user.
	User   string
	UserID *uint
	By     string
}

// eventRows turns the log's entries into rows.
func eventRows(entries []seclog.Entry) []eventRow {
	rows := make([]eventRow, len(entries))
	for i, e := range entries {
		rows[i] = eventRow{
			What: e.Kind.Label(), Failed: e.Kind == seclog.SignInFailed || e.Kind == seclog.LimitHit,
			When: e.CreatedAt, Where: e.Address, Device: agentSummary(e.UserAgent), Agent: e.UserAgent,
			How: methodLabel(e.Method), Detail: e.Detail, User: e.UserEmail, UserID: e.UserID,
		}
		if e.ActorID != nil && (e.UserID == nil || *e.ActorID != *e.UserID) {
			rows[i].By = e.ActorEmail
		}
	}
	return rows
}

// methodLabel says how an event happened, in words.
func methodLabel(m string) string {
	switch m {
	case users.MethodPassword:
		return "Password"
	case users.MethodDirectory:
		return "Company directory"
	case users.MethodAPI:
		return "API"
	case users.MethodLink:
		return "Emailed link"
	case users.MethodAdmin:
		return "By an admin"
	case users.MethodManage:
		return "By an operator"
	case users.MethodRegister:
		return "Registration"
	}
	if provider, ok := strings.CutPrefix(m, "sso:"); ok {
		return provider + " (single sign-on)"
	}
	return m
}

// agentSummary reads a user agent as a person would name the device:
// "Firefox on Linux", "Safari on iOS", "curl"; an agent it cannot read
// is shown cut short, none as "Unknown".
func agentSummary(ua string) string {
	if ua == "" {
		return "Unknown"
	}
	browser := ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
		{"curl/", "curl"}, {"Go-http-client", "Go program"}, {"python-requests", "Python program"}, {"HeadlessChrome", "Chrome"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "A browser on " + system
	}
	if len(ua) > 40 {
		return strings.ToValidUTF8(ua[:40], "") + "…"
	}
	return ua
}

// eventTable is the data of the "event-table" partial
// (templates/layouts/partials.html): the rows, the table's accessible
// name (not the name of the section around it: two landmarks would
// share one), and whether to show whose each event is.
type eventTable struct {
	Rows     []eventRow
	Label    string
	WithUser bool
}

// EventTable is the security page's table of recent activity.
func (d securityData) EventTable() eventTable {
	return eventTable{Rows: d.Events, Label: "Your events, newest first"}
}

// EventTable is the admin user page's table of the account's events.
func (f *userForm) EventTable() eventTable {
	return eventTable{Rows: f.Events, Label: "This account's events, newest first"}
}

// EventTable is the table of /admin/security-events.
func (d adminEventsData) EventTable() eventTable {
	return eventTable{Rows: d.Events, Label: "Security events", WithUser: true}
}

// recentActivity is the newest events of user id, as rows.
func (s *Server) recentActivity(ctx context.Context, id uint) ([]eventRow, error) {
	entries, err := s.events.ForUser(ctx, id, recentEvents)
	if err != nil {
		return nil, err
	}
	return eventRows(entries), nil
}

// kindOption is one choice of the filter's list of kinds.
type kindOption struct {
	Value, Label string
	Selected     bool
}

// adminEventsData is the data of templates/pages/admin-security-events.html:
// a page of the events picked by Kind and Email ("" for any), how many
// there are, the filter's choices and the pager.
type adminEventsData struct {
	Events      []eventRow
	Total       int64
	Kind, Email string
	Kinds       []kindOption
	Pager       Pager
	// NoAccount: no account has the address Email.
	NoAccount bool
}

// Filtered reports whether the list is filtered.
func (d adminEventsData) Filtered() bool { return d.Kind != "" || d.Email != "" }

// adminSecurityEventsPage lists every security event, newest first, a
// page at a time, from the query parameters kind (a seclog.Kind), email
// (the address of the account the events are about) and page.
func (s *Server) adminSecurityEventsPage(w http.ResponseWriter, r *http.Request) error {
	params := r.URL.Query()
	d := adminEventsData{Kind: params.Get("kind"), Email: strings.TrimSpace(params.Get("email"))}
	if d.Kind != "" && !seclog.Kind(d.Kind).Known() {
		return errStatus(http.StatusBadRequest, "Choose a kind of event from the list.")
	}
	if len(d.Email) > maxEventSearch {
		return errStatus(http.StatusBadRequest, "An email address has at most 254 characters.")
	}
	for _, k := range seclog.Kinds() {
		d.Kinds = append(d.Kinds, kindOption{Value: string(k), Label: k.Label(), Selected: string(k) == d.Kind})
	}
	f := seclog.Filter{Kind: seclog.Kind(d.Kind)}
	page, _ := strconv.Atoi(params.Get("page"))
	link := func(p int) string { return eventsURL(d.Kind, d.Email, p) }
	if d.Email != "" {
		u, err := s.users.ByEmail(r.Context(), d.Email)
		if errors.Is(err, users.ErrNotFound) {
			d.NoAccount, d.Pager = true, NewPager(1, 1, link)
			return s.render(w, r, http.StatusOK, "pages/admin-security-events.html", d)
		}
		if err != nil {
			return err
		}
		f.UserID = &u.ID
	}
	p, err := s.events.List(r.Context(), f, page, eventsPerPage)
	if err != nil {
		return err
	}
	d.Events, d.Total, d.Pager = eventRows(p.Entries), p.Total, NewPager(p.Page, p.Pages, link)
	return s.render(w, r, http.StatusOK, "pages/admin-security-events.html", d)
}

// eventsURL is the address of page of /admin/security-events filtered by
// kind and email, leaving out what is the default.
func eventsURL(kind, email string, page int) string {
	v := url.Values{}
	if kind != "" {
		v.Set("kind", kind)
	}
	if email != "" {
		v.Set("email", email)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/admin/security-events"
	}
	return "/admin/security-events?" + v.Encode()
}
