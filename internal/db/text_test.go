package db_test

import (
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/db"
)

func TestPlainTextIsWhatEveryDatabaseStores(t *testing.T) {
	for _, tc := range []struct {
		name, s string
		want    bool
	}{
		{"empty", "", true},
		{"words and accents", "Zoë's café, 42 €", true},
		{"lines and tabs", "one\ntwo\tthree", true},
		{"a NUL byte", "a\x00b", false},
		{"invalid UTF-8", "a\xffb", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := db.PlainText(tc.s); got != tc.want {
				t.Errorf("PlainText(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func TestNowIsUTCToTheMicrosecond(t *testing.T) {
	now := db.Now()
	if now.Location() != time.UTC || now.Nanosecond()%1000 != 0 {
		t.Errorf("Now() = %v (%d ns), want UTC in whole microseconds", now, now.Nanosecond())
	}
}
