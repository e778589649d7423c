package users_test

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/users"
)

// manyUsers is how many accounts TestListManyUsers makes: enough that
// loading them all for one page would show.
const manyUsers = 10_000

// The accounts whose names hold the characters LIKE, or its escape,
// would otherwise take for patterns.
var wildNames = []string{"100% sure", "a_b", `back\slash`, "bang!"}

// insertManyUsers adds manyUsers accounts in bulk: user00000@example.com
// on, named "Person 000" to "Person 499" (20 of each), created three per
// second (so that names and creation times tie), then one account for
// each of wildNames.
func insertManyUsers(t *testing.T, d *db.DB) {
	t.Helper()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]users.User, 0, manyUsers+len(wildNames))
	for i := range manyUsers {
		rows = append(rows, users.User{
			Email: fmt.Sprintf("user%05d@example.com", i), Name: fmt.Sprintf("Person %03d", i%500),
			PasswordHash: "-", Active: true, CreatedAt: base.Add(time.Duration(i/3) * time.Second),
		})
	}
	for i, name := range wildNames {
		rows = append(rows, users.User{Email: fmt.Sprintf("wild%d@example.com", i), Name: name, PasswordHash: "-", Active: true, CreatedAt: base})
	}
	if err := d.Gorm.CreateInBatches(rows, 1000).Error; err != nil {
		t.Fatal(err)
	}
}

func TestListManyUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 10,000 users on every database")
	}
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		insertManyUsers(t, d)
		ctx := t.Context()
		all := int64(manyUsers + len(wildNames))

		// Only the page's rows are read: the count, the page, its roles.
		var scanned atomic.Int64
		count := func(tx *gorm.DB) { scanned.Add(tx.RowsAffected) }
		if err := d.Gorm.Callback().Query().After("gorm:query").Register("test:scanned", count); err != nil {
			t.Fatal(err)
		}
		p, err := s.List(ctx, users.ListQuery{Page: 1, PerPage: 50})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != all || len(p.Users) != 50 || p.Page != 1 || p.Pages != int((all+49)/50) {
			t.Fatalf("first page: total %d, %d users, page %d of %d", p.Total, len(p.Users), p.Page, p.Pages)
		}
		if n := scanned.Load(); n > 50*3+10 {
			t.Errorf("one page of 50 read %d rows", n)
		}
		if got := p.Users[0].Email; got != fmt.Sprintf("user%05d@example.com", manyUsers-1) {
			t.Errorf("newest first: page starts with %s", got)
		}

		// Each order, both ways, holds across a page boundary, ties (every
		// order but email's has some) in id order.
		sorts := []struct {
			sort, search string
			key          func(u users.User) string
		}{
			{users.SortEmail, "user", func(u users.User) string { return u.Email }},
			{users.SortName, "person", func(u users.User) string { return u.Name }},
			{users.SortCreated, "", func(u users.User) string { return u.CreatedAt.UTC().Format(time.RFC3339Nano) }},
		}
		for _, c := range sorts {
			for _, desc := range []bool{false, true} {
				var got []users.User
				for page := 3; page <= 4; page++ {
					p, err := s.List(ctx, users.ListQuery{Search: c.search, Sort: c.sort, Desc: desc, Page: page, PerPage: 40})
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, p.Users...)
				}
				ties := 0
				for i := 1; i < len(got); i++ {
					order := cmp.Or(cmp.Compare(c.key(got[i-1]), c.key(got[i])), cmp.Compare(got[i-1].ID, got[i].ID))
					if desc {
						order = -order
					}
					if order >= 0 {
						t.Fatalf("sort %s desc %v: %s (id %d) before %s (id %d)", c.sort, desc, c.key(got[i-1]), got[i-1].ID, c.key(got[i]), got[i].ID)
					}
					if c.key(got[i-1]) == c.key(got[i]) {
						ties++
					}
				}
				if len(got) != 80 || (ties == 0) != (c.sort == users.SortEmail) {
					t.Errorf("sort %s desc %v: %d users, %d ties", c.sort, desc, len(got), ties)
				}
			}
		}

		// Pages out of range: before the first is the first, past the
		// last is the last.
		for _, page := range []int{-5, 0} {
			if p, err := s.List(ctx, users.ListQuery{Page: page, PerPage: 50}); err != nil || p.Page != 1 {
				t.Errorf("page %d: page %d, %v", page, p.Page, err)
			}
		}
		p, err = s.List(ctx, users.ListQuery{Page: 1 << 40, PerPage: 3000 / 10})
		if err != nil || p.Page != p.Pages || len(p.Users) != int(all)%300 {
			t.Errorf("past the end: page %d of %d, %d users, %v", p.Page, p.Pages, len(p.Users), err)
		}

		// Searches: a substring of the email or the name, any case;
		// LIKE's wildcards and escape are plain characters.
		searches := map[string]int64{
			"USER0001": 10, "person 499": 20, "@EXAMPLE.com": all, "nobody": 0,
			"%": 1, "0%": 1, "_": 1, `\`: 1, "!": 1, "%%": 0,
		}
		for search, want := range searches {
			p, err := s.List(ctx, users.ListQuery{Search: search, PerPage: 50})
			if err != nil || p.Total != want || len(p.Users) != int(min(want, 50)) || p.Pages < 1 {
				t.Errorf("search %q: total %d, %d users, %d pages, %v; want %d", search, p.Total, len(p.Users), p.Pages, err, want)
			}
			for _, u := range p.Users {
				if !strings.Contains(strings.ToLower(u.Email+" "+u.Name), strings.ToLower(search)) {
					t.Errorf("search %q found %s (%s)", search, u.Email, u.Name)
				}
			}
		}
	})
}

func TestListRefusesBadQueries(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		for _, q := range []users.ListQuery{
			{Sort: "password_hash", PerPage: 10},
			{Sort: "email; DROP TABLE users", PerPage: 10},
			{Search: strings.Repeat("a", users.MaxSearch+1), PerPage: 10},
			{Search: "a\x00b", PerPage: 10},
			{Search: "\xff", PerPage: 10},
			{PerPage: 0},
			{PerPage: users.MaxPerPage + 1},
		} {
			if _, err := s.List(t.Context(), q); !errors.Is(err, users.ErrBadListQuery) {
				t.Errorf("List(%+v) = %v, want ErrBadListQuery", q, err)
			}
		}
		if _, err := s.List(t.Context(), users.ListQuery{Search: strings.Repeat("é", users.MaxSearch), PerPage: 10}); err != nil {
			t.Errorf("a search of MaxSearch characters: %v", err)
		}
	})
}

// TestListFindsNamesBeyondASCII: a search spelled as the name is spelled
// finds it on every database, whatever its letters (the search was once
// folded in Go but the column by SQLite's ASCII-only LOWER, so "Émile"
// missed "Émile Zola" there); ASCII letters match in any case.
func TestListFindsNamesBeyondASCII(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		if err := d.Gorm.Create(&users.User{Email: "emile@example.com", Name: "Émile Zola", PasswordHash: "-", Active: true}).Error; err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"Émile", "Émile Z", "zola", "ZOLA", "EMILE@"} {
			p, err := s.List(t.Context(), users.ListQuery{Search: q, PerPage: 10})
			if err != nil || p.Total != 1 {
				t.Errorf("search %q found %d users (%v), want Émile Zola", q, p.Total, err)
			}
		}
	})
}
