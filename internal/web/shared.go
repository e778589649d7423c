// Helpers that return their failure, for handlers of the handle shape
// (handler.go): the generated resources' handlers (tools/scaffold) call
// them instead of each carrying a copy.

package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
)

// parseForm reads the posted fields. A form too large is a 413, one that
// cannot be read or holds what plainText refuses a 400. (The method of
// the same name answers those itself, for the handlers that do not
// return their failure yet.)
func parseForm(w http.ResponseWriter, r *http.Request, fields ...string) (*form, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errStatus(http.StatusRequestEntityTooLarge, "")
		}
		return nil, errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	for _, values := range r.PostForm {
		for _, v := range values {
			if !plainText(v) {
				return nil, errStatus(http.StatusBadRequest, badTextMessage)
			}
		}
	}
	f := newForm()
	for _, name := range fields {
		f.Values[name] = r.PostForm.Get(name)
	}
	return f, nil
}

// pathID reads the path's {name} as the ID of a row: a whole number
// from 1 to what BIGINT holds, else errNotFound (no such page).
func pathID(r *http.Request, name string) (uint, error) {
	id, err := strconv.ParseUint(chi.URLParam(r, name), 10, 63)
	if err != nil || id == 0 {
		return 0, errNotFound
	}
	return uint(id), nil
}
