//go:build !nodev

// Development tools under /dev (SPEC §6): routes.go mounts them only when
// ENV is development, so every /dev path is a 404 anywhere else, and
// builds tagged nodev (the production binaries of make build) leave them
// out (dev_nodev.go). Like
// Mailpit or letter_opener they need no sign-in: a development server is
// the developer's own. They answer only on the developer's own machine
// (onThisMachine): the mail viewer shows every reset link, so a server
// reachable from elsewhere (ENV left at its development default on a
// host, or make run on a shared network) must not show it to others.

package web

import (
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/go-chi/chi/v5"
)

// devRoutes mounts the development tools under /dev; GET /dev lists
// them.
func (s *Server) devRoutes(r chi.Router) {
	r.Route("/dev", func(r chi.Router) {
		r.Use(s.onThisMachine)
		dev := s.devIndex(r)
		dev.add("/ui", "UI", "The living style guide: every component of the design system, with its icons (docs/ui.md).", s.devUIPage)
		if s.devMail != nil {
			dev.add("/mail", "Mail", "The mail the app wrote to MAIL_OUTBOX_DIR, decoded, links clickable.", s.devMailPage)
			r.Get("/mail/{id}", s.handle(s.devMessagePage))
			r.Get("/mail/{id}/html", s.handle(s.devMessageHTML))
			r.Get("/mail/{id}/source", s.handle(s.devMessageSource))
		} else {
			dev.off("Mail", "The mail the app sent.", "MAIL_SERVER is set: mail goes to that server.")
		}
	})
}

// onThisMachine answers 404 to any request for the development tools but
// one from this machine to a loopback name: its TCP peer must be a
// loopback address (forwarding headers are not read: a proxy in front
// means the request came from elsewhere), and its Host must be localhost
// or a loopback address, so that a web page the developer visits cannot
// read the tools through DNS rebinding.
func (s *Server) onThisMachine(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !parseAddr(r.RemoteAddr).IsLoopback() || !loopbackHost(r.Host) {
			s.respond(w, r, errStatus(http.StatusNotFound, "The development tools answer only on this machine, at http://localhost (or 127.0.0.1)."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether host (a Host header, with or without a
// port) names this machine: localhost, a name under it, or a loopback
// address.
func loopbackHost(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	return name == "localhost" || strings.HasSuffix(name, ".localhost") || parseAddr(host).IsLoopback()
}

// devTool is one entry of the /dev index.
type devTool struct {
	Path, Title, About string
	// Off, when set, says why the tool is not available here.
	Off string
}

// devTools are the development tools: the router they are mounted on
// and the list GET /dev shows.
type devTools struct {
	s     *Server
	r     chi.Router
	tools []devTool
}

// devIndex mounts GET /dev, the index of the development tools, on r;
// routes.go adds each tool to the router and the index with add.
func (s *Server) devIndex(r chi.Router) *devTools {
	d := &devTools{s: s, r: r}
	r.Get("/", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return s.render(w, r, http.StatusOK, "pages/dev.html", d.tools)
	}))
	return d
}

// add mounts the page of a tool at path (under /dev) and lists it.
func (d *devTools) add(path, title, about string, page handlerFunc) {
	d.r.Get(path, d.s.handle(page))
	d.tools = append(d.tools, devTool{Path: "/dev" + path, Title: title, About: about})
}

// off lists a tool that is not available here, and why.
func (d *devTools) off(title, about, why string) {
	d.tools = append(d.tools, devTool{Title: title, About: about, Off: why})
}

// devUIData is the data of templates/pages/dev-ui.html.
type devUIData struct {
	// Icons are the names of the sprite's symbols, in its order.
	Icons []string
	// Pager is the pagination example's: page 2 of 9.
	Pager Pager
}

var spriteSymbol = regexp.MustCompile(`<symbol id="i-([a-z0-9-]+)"`)

// devUIPage is GET /dev/ui, the living style guide: every component in
// the theme the browser asks for (or the toggle chose), and every icon of
// static/icons.svg, read from the file so that a new symbol shows at once.
func (s *Server) devUIPage(w http.ResponseWriter, r *http.Request) error {
	sprite, err := fs.ReadFile(s.templates.static, "icons.svg")
	if err != nil {
		return err
	}
	d := devUIData{Pager: NewPager(2, 9, func(n int) string { return fmt.Sprintf("/dev/ui?page=%d#pagination", n) })}
	for _, m := range spriteSymbol.FindAllSubmatch(sprite, -1) {
		d.Icons = append(d.Icons, string(m[1]))
	}
	return s.render(w, r, http.StatusOK, "pages/dev-ui.html", d)
}
