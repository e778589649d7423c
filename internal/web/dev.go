// Development tools under /dev (SPEC §6): routes.go mounts them only when
// ENV is development, so every /dev path is a 404 anywhere else. Like
// Mailpit or letter_opener they need no sign-in: a development server is
// the developer's own.

package web

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// devTool is one entry of the /dev index.
type devTool struct {
	Path, Title, About string
	// Off, when set, says why the tool is not available here.
	Off string
}

// devTools are the development tools: the router they are mounted on
// and the list GET /dev shows.
type devTools struct {
	r     chi.Router
	tools []devTool
}

// devIndex mounts GET /dev, the index of the development tools, on r;
// routes.go adds each tool to the router and the index with add.
func (s *Server) devIndex(r chi.Router) *devTools {
	d := &devTools{r: r}
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusOK, "pages/dev.html", d.tools)
	})
	return d
}

// add mounts the page of a tool at path (under /dev) and lists it.
func (d *devTools) add(path, title, about string, page http.HandlerFunc) {
	d.r.Get(path, page)
	d.tools = append(d.tools, devTool{Path: "/dev" + path, Title: title, About: about})
}

// off lists a tool that is not available here, and why.
func (d *devTools) off(title, about, why string) {
	d.tools = append(d.tools, devTool{Title: title, About: about, Off: why})
}
