package seclog_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// fixture is a security log on a migrated database of one dialect, with
// what it logged and counted, and two accounts.
type fixture struct {
	d        *db.DB
	log      *seclog.Log
	lines    *bytes.Buffer
	counts   map[string]int
	ada, bob *users.User
}

func forEachDialect(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			t.Parallel()
			d := testenv.MigratedDB(t, dialect.URL(t))
			f := &fixture{d: d, lines: &bytes.Buffer{}, counts: map[string]int{}}
			var mu sync.Mutex
			f.log = seclog.New(d.Gorm, slog.New(slog.NewTextHandler(f.lines, nil)), func(kind string) {
				mu.Lock()
				defer mu.Unlock()
				f.counts[kind]++
			})
			u := users.NewService(d)
			u.Params = testenv.CheapHashing
			var err error
			if f.ada, err = u.Create(t.Context(), "ada@example.com", "correct horse battery"); err != nil {
				t.Fatal(err)
			}
			if f.bob, err = u.Create(t.Context(), "bob@example.com", "correct horse battery"); err != nil {
				t.Fatal(err)
			}
			fn(t, f)
		})
	}
}

func TestRecordTakesTheClientFromTheContextAndLogsALine(t *testing.T) {
	forEachDialect(t, func(t *testing.T, f *fixture) {
		ctx := seclog.WithClient(t.Context(), seclog.Client{Address: "203.0.113.9", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)\nInjected: yes"})
		if err := f.log.Record(ctx, nil, seclog.Event{UserID: seclog.UserRef(f.ada.ID), Kind: seclog.SignIn, Method: "password"}); err != nil {
			t.Fatal(err)
		}
		got, err := f.log.ForUser(t.Context(), f.ada.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Kind != seclog.SignIn || got[0].Address != "203.0.113.9" || got[0].UserAgent != "Mozilla/5.0 (X11; Linux x86_64)Injected: yes" || got[0].UserEmail != "ada@example.com" {
			t.Fatalf("events = %+v", got)
		}
		if line := f.lines.String(); !strings.Contains(line, `msg="security event" kind=sign_in address=203.0.113.9 user_id=`) || !strings.Contains(line, "method=password") {
			t.Errorf("log line = %q", line)
		}
		if f.counts["sign_in"] != 1 {
			t.Errorf("counts = %v", f.counts)
		}
	})
}

func TestAnEventInAFailedTransactionIsRolledBack(t *testing.T) {
	forEachDialect(t, func(t *testing.T, f *fixture) {
		boom := errors.New("the change failed")
		err := f.d.Gorm.WithContext(t.Context()).Transaction(func(tx *gorm.DB) error {
			if err := f.log.Record(t.Context(), tx, seclog.Event{UserID: seclog.UserRef(f.ada.ID), Kind: seclog.PasswordChanged}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if got, _ := f.log.ForUser(t.Context(), f.ada.ID, 10); len(got) != 0 {
			t.Errorf("the rolled-back event is there: %+v", got)
		}
	})
}

func TestATransactionsLinesWaitForItsCommit(t *testing.T) {
	forEachDialect(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		boom := errors.New("refused at the end")
		err := f.log.Transaction(ctx, f.d.Gorm, func(tx *gorm.DB) error {
			if err := f.log.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(f.ada.ID), Kind: seclog.RolesChanged, Detail: "added: admin"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if f.lines.Len() != 0 || f.counts["roles_changed"] != 0 {
			t.Errorf("a rolled-back event was logged (%q) or counted (%v)", f.lines, f.counts)
		}
		err = f.log.Transaction(ctx, f.d.Gorm, func(tx *gorm.DB) error {
			if err := f.log.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(f.ada.ID), Kind: seclog.RolesChanged, Detail: "added: dev"}); err != nil {
				return err
			}
			if f.lines.Len() != 0 {
				t.Error("the line was written before the commit")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(f.lines.String(), `detail="added: dev"`) || strings.Contains(f.lines.String(), "added: admin") || f.counts["roles_changed"] != 1 {
			t.Errorf("after the commit: lines %q, counts %v", f.lines, f.counts)
		}
		got, _ := f.log.ForUser(ctx, f.ada.ID, 10)
		if len(got) != 1 || got[0].Detail != "added: dev" {
			t.Errorf("rows = %+v", got)
		}
	})
}

func TestListFiltersAndPages(t *testing.T) {
	forEachDialect(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		for i := range 5 {
			kind := seclog.SignIn
			if i%2 == 1 {
				kind = seclog.SignInFailed
			}
			if err := f.log.Record(ctx, nil, seclog.Event{UserID: seclog.UserRef(f.ada.ID), Kind: kind}); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.log.Record(ctx, nil, seclog.Event{UserID: seclog.UserRef(f.bob.ID), ActorID: seclog.UserRef(f.ada.ID), Kind: seclog.RolesChanged, Detail: "added: dev"}); err != nil {
			t.Fatal(err)
		}
		if err := f.log.Record(ctx, nil, seclog.Event{Kind: seclog.SignInFailed, Detail: "unknown account"}); err != nil {
			t.Fatal(err)
		}

		all, err := f.log.List(ctx, seclog.Filter{}, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		if all.Total != 7 || all.Pages != 3 || len(all.Entries) != 3 || all.Entries[0].Detail != "unknown account" || all.Entries[1].ActorEmail != "ada@example.com" || all.Entries[1].UserEmail != "bob@example.com" {
			t.Errorf("page 1 = %+v", all)
		}
		last, _ := f.log.List(ctx, seclog.Filter{}, 99, 3)
		if last.Page != 3 || len(last.Entries) != 1 {
			t.Errorf("page past the end = %+v", last)
		}
		failed, _ := f.log.List(ctx, seclog.Filter{Kind: seclog.SignInFailed, UserID: seclog.UserRef(f.ada.ID)}, 1, 50)
		if failed.Total != 2 {
			t.Errorf("ada's failed sign-ins = %+v", failed)
		}
		bobs, _ := f.log.List(ctx, seclog.Filter{UserID: seclog.UserRef(f.bob.ID)}, 1, 50)
		if bobs.Total != 1 || bobs.Entries[0].Kind != seclog.RolesChanged {
			t.Errorf("bob's = %+v", bobs)
		}
		none, _ := f.log.List(ctx, seclog.Filter{Until: time.Now().Add(-time.Hour)}, 1, 50)
		if none.Total != 0 || none.Pages != 1 {
			t.Errorf("events before an hour ago = %+v", none)
		}
		if _, err := f.log.List(ctx, seclog.Filter{Kind: "drop table"}, 1, 50); !errors.Is(err, seclog.ErrBadFilter) {
			t.Errorf("unknown kind: %v", err)
		}
		mine, _ := f.log.ForUser(ctx, f.ada.ID, 3)
		if len(mine) != 3 || mine[0].Kind != seclog.SignIn {
			t.Errorf("ada's newest 3 = %+v", mine)
		}
	})
}

func TestPurgeDeletesOnlyOldEvents(t *testing.T) {
	forEachDialect(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		old := time.Now().UTC().Add(-100 * 24 * time.Hour)
		rows := []seclog.Event{
			{UserID: seclog.UserRef(f.ada.ID), Kind: seclog.SignIn, Detail: "old", CreatedAt: old},
			{Kind: seclog.SignInFailed, Detail: "old", CreatedAt: old.Add(time.Hour)},
			{UserID: seclog.UserRef(f.ada.ID), Kind: seclog.SignIn, Detail: "recent", CreatedAt: time.Now().UTC().Add(-89 * 24 * time.Hour)},
		}
		if err := f.d.Gorm.Create(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if err := f.log.Record(ctx, nil, seclog.Event{UserID: seclog.UserRef(f.ada.ID), Kind: seclog.SignOut, Detail: "recent"}); err != nil {
			t.Fatal(err)
		}
		n, err := f.log.Purge(ctx, time.Now().Add(-90*24*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("Purge = %d, %v; want 2", n, err)
		}
		left, _ := f.log.List(ctx, seclog.Filter{}, 1, 50)
		if left.Total != 2 {
			t.Fatalf("left = %+v", left)
		}
		for _, e := range left.Entries {
			if e.Detail != "recent" {
				t.Errorf("kept %+v", e)
			}
		}
	})
}

func TestKindsHaveLabels(t *testing.T) {
	for _, k := range seclog.Kinds() {
		if k.Label() == string(k) || !k.Known() {
			t.Errorf("kind %s has no label", k)
		}
	}
	if seclog.Kind("nope").Known() {
		t.Error("an unknown kind is known")
	}
}

func TestANilLogRecordsAndReadsNothing(t *testing.T) {
	var l *seclog.Log
	ctx := context.Background()
	if err := l.Record(ctx, nil, seclog.Event{Kind: seclog.SignIn}); err != nil {
		t.Fatal(err)
	}
	if got, err := l.ForUser(ctx, 1, 10); err != nil || got != nil {
		t.Fatal(got, err)
	}
}
