//go:build nodev

// Builds tagged nodev (make build: the production binaries) have no
// development tools: /dev is a 404 whatever ENV says, and the mail
// viewer's code is not in the binary (dev.go, devmail.go).

package web

import "github.com/go-chi/chi/v5"

// devRoutes mounts nothing: this build has no development tools.
func (s *Server) devRoutes(chi.Router) {}
