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
	"strings"

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
	cache    map[string]*template.Template
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
	t.cache = map[string]*template.Template{}
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

func (t *templateSet) parse(page string) (*template.Template, error) {
	tmpl, err := template.New(path.Base(page)).Funcs(template.FuncMap{"asset": t.assets.url}).ParseFS(t.fsys, "layouts/*.html", page)
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", page, err)
	}
	if err := t.assets.inline(tmpl); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", page, err)
	}
	return tmpl, nil
}

func (t *templateSet) get(page string) (*template.Template, error) {
	if t.fromDisk {
		return t.parse(page)
	}
	tmpl, ok := t.cache[page]
	if !ok {
		return nil, fmt.Errorf("no template %s", page)
	}
	return tmpl, nil
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
	// User is the signed-in user, nil for visitors.
	User    *users.User
	Flashes []session.Flash
	Data    any
}

// render writes page with status. The page is rendered into a buffer
// first, so that a template error writes nothing and is returned, for
// the handler to return (a clean 500, not half a page).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) error {
	tmpl, err := s.templates.get(page)
	if err != nil {
		return err
	}
	v := viewData{
		AppName: s.cfg.AppName, RegisterEnabled: s.cfg.UserEnableRegister && !s.cfg.UserLDAP,
		Directory: s.cfg.UserLDAP, LocalAccounts: !s.cfg.UserLDAP || s.cfg.UserLDAPAllowLocal,
		User: currentUser(r), Data: data,
	}
	if hasSession(r.Context()) {
		v.Flashes = session.PopFlashes(r.Context(), s.sessions)
	}
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, "base", v); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	swapFormOnly(w.Header(), r, status, page, buf.Bytes()) // htmx.go
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return nil
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
