package web

import "net/http"

func (s *Server) homePage(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, http.StatusOK, "pages/home.html", nil)
}
