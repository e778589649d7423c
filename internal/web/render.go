package web

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/users"
	"github.com/launchkit/launchkit/static"
	"github.com/launchkit/launchkit/templates"
)

// templateSet parses each page together with the layouts. Embedded
// templates are parsed once at start; in development, when ./templates
// exists, they are parsed from disk on every render.
type templateSet struct {
	fsys     fs.FS
	static   fs.FS
	assets   *assets
	fromDisk bool
	cache    map[string]*page
	icons    sync.Map // icon markup by name (shell.go)
}

// page is a parsed page and the layout it asks for ({{define "layout"}}
// in the page: "auth", "app" or "public"; "" for the default).
type page struct {
	tmpl   *template.Template
	layout string
}

func newTemplateSet(env string) (*templateSet, error) {
	t := &templateSet{fsys: templates.FS, static: static.FS}
	if env == config.EnvDevelopment && isDir("templates/layouts") && isDir("static/css") {
		t.fsys, t.static, t.fromDisk = os.DirFS("templates"), os.DirFS("static"), true
	}
	var err error
	if t.assets, err = newAssets(t.static, t.fromDisk); err != nil {
		return nil, err
	}
	pages, err := fs.Glob(t.fsys, "*/*.html")
	if err != nil {
		return nil, err
	}
	t.cache = map[string]*page{}
	for _, p := range pages {
		if strings.HasPrefix(p, "layouts/") || strings.HasPrefix(p, "emails/") {
			continue // not pages: emails/ is internal/mail's
		}
		tmpl, err := t.parse(p)
		if err != nil {
			return nil, err // a broken template fails start-up, not a request
		}
		t.cache[p] = tmpl
	}
	return t, nil
}

func (t *templateSet) parse(name string) (*page, error) {
	tmpl, err := template.New(path.Base(name)).Funcs(t.funcs()).ParseFS(t.fsys, "layouts/*.html", name)
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", name, err)
	}
	if err := t.assets.inline(tmpl); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", name, err)
	}
	if err := t.inlineShell(tmpl); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", name, err)
	}
	p := &page{tmpl: tmpl}
	if l := tmpl.Lookup("layout"); l != nil {
		var b strings.Builder
		if err := l.Execute(&b, nil); err != nil {
			return nil, fmt.Errorf("template %s: layout: %w", name, err)
		}
		p.layout = strings.TrimSpace(b.String())
		if !slices.Contains([]string{layoutApp, layoutAuth, layoutPublic}, p.layout) {
			return nil, fmt.Errorf("template %s: layout %q is none of app, auth, public", name, p.layout)
		}
	}
	return p, nil
}

func (t *templateSet) get(name string) (*page, error) {
	if t.fromDisk {
		return t.parse(name)
	}
	p, ok := t.cache[name]
	if !ok {
		return nil, fmt.Errorf("no template %s", name)
	}
	return p, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// viewData is what every template gets; Data is the page's own.
type viewData struct {
	AppName         string
	RegisterEnabled bool
	// Directory is USER_LDAP: users sign in with a directory username;
	// LocalAccounts whether local accounts may sign in too.
	Directory, LocalAccounts bool
	// Passkeys is whether the site offers passkeys (its BASE_URL names a
	// WebAuthn relying party: passkeys.go).
	Passkeys bool
	// User is the signed-in user, nil for visitors.
	User    *users.User
	Flashes []session.Flash
	Data    any
	// Path is the request's path, for the navigation's current link.
	Path string
	// Admin and Dev say whether User holds those roles, Initials are
	// its avatar's letters and Avatar the address of its picture's
	// 64-pixel copy ("" for none): the shell asks on every page (twice
	// for the navigation), and a field costs less than a method call.
	Admin, Dev       bool
	Initials, Avatar string
	// Layout is the body's layout (base.html): "app" (the shell of
	// signed-in pages), "auth" (the centred card of signing in) or
	// "public" (visitors). A page asks for one with
	// {{define "layout"}}auth{{end}}; by default signed-in users get
	// app, visitors public.
	Layout string
}

// The layouts of base.html.
const (
	layoutApp    = "app"
	layoutAuth   = "auth"
	layoutPublic = "public"
)

// render writes page with status. The page is rendered into a buffer
// first, so that a template error writes nothing and is returned, for
// the handler to return (a clean 500, not half a page).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) error {
	p, err := s.templates.get(name)
	if err != nil {
		return err
	}
	v := viewData{
		AppName: s.cfg.AppName, RegisterEnabled: s.cfg.UserEnableRegister && !s.cfg.UserLDAP,
		Directory: s.cfg.UserLDAP, LocalAccounts: !s.cfg.UserLDAP || s.cfg.UserLDAPAllowLocal,
		Passkeys: s.relyingParty != nil,
		User:     currentUser(r), Data: data, Path: r.URL.Path, Layout: p.layout,
	}
	if v.Layout == "" || (v.Layout == layoutApp && v.User == nil) {
		v.Layout = layoutPublic
		if v.User != nil {
			v.Layout = layoutApp
		}
	}
	if v.User != nil {
		v.Admin, v.Dev, v.Initials = v.User.HasRole(users.RoleAdmin), v.User.HasRole(users.RoleDev), initials(v.User)
		v.Avatar = avatarURL(v.User, "64")
	}
	if hasSession(r.Context()) {
		v.Flashes = session.PopFlashes(r.Context(), s.sessions)
	}
	buf := renderBuffers.Get().(*bytes.Buffer)
	defer putRenderBuffer(buf)
	buf.Reset()
	if err := p.tmpl.ExecuteTemplate(buf, "base", v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	out := markCurrent(buf.Bytes(), v.Path)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The length, known: without it a page over 2 KB goes out in chunks.
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	swapFormOnly(w.Header(), r, status, name, out) // htmx.go
	w.WriteHeader(status)
	_, _ = w.Write(out)
	return nil
}

// renderBuffers hold pages while they render: a page is some ten
// kilobytes, which a new buffer would grow to by several copies on every
// view.
var renderBuffers = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 32<<10)) }}

// putRenderBuffer returns buf to the pool unless a rare large page grew
// it, which the pool would otherwise keep.
func putRenderBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 256<<10 {
		renderBuffers.Put(buf)
	}
}

// static serves /static/ from the embedded files (or disk in
// development), with the caching and compression assets.serve gives;
// a missing file gets the site's 404 page.
func (s *Server) static() http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(s.templates.static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if fi, err := fs.Stat(s.templates.static, name); err != nil || fi.IsDir() || strings.HasSuffix(name, ".go") {
			s.respond(w, r, errNotFound)
			return
		}
		s.templates.assets.serve(w, r, name, files)
	})
}

type sessionLoadedKey struct{}

func hasSession(ctx context.Context) bool {
	loaded, _ := ctx.Value(sessionLoadedKey{}).(bool)
	return loaded
}
