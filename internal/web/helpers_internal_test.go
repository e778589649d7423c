package web

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
)

// TestPathIDReadsOnlyARowID: {id} is a row's ID from 1 to what BIGINT
// holds; anything else is a page that is not there.
func TestPathIDReadsOnlyARowID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want uint
	}{
		{"7", 7},
		{"9223372036854775807", 1<<63 - 1},
		{"0", 0},
		{"-1", 0},
		{"x", 0},
		{"7x", 0},
		{"", 0},
		{"9223372036854775808", 0},
	} {
		t.Run(tc.id, func(t *testing.T) {
			rctx := chi.NewRouteContext()
			rctx.URLParams.Add("id", tc.id)
			r := httptest.NewRequest("GET", "/", nil)
			r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
			got, err := pathID(r, "id")
			if tc.want == 0 && !errors.Is(err, errNotFound) {
				t.Errorf("pathID = %d, %v; want errNotFound", got, err)
			}
			if tc.want != 0 && (got != tc.want || err != nil) {
				t.Errorf("pathID = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
