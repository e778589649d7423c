package users_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/users"
)

// TestLinkRequestsForImpossibleAddressesWriteNothing: a request for a link
// to something no account could have as its address writes no mail (and
// is answered like any other); a possible address is written normalized.
func TestLinkRequestsForImpossibleAddressesWriteNothing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		for _, junk := range []string{"", "   ", "no-at-sign", strings.Repeat("a", 250) + "@example.com",
			"a\x00@example.com", "\xffa@example.com", "Ada <ada@example.com>"} {
			if err := s.RequestPasswordReset(ctx, junk); err != nil {
				t.Errorf("RequestPasswordReset(%q): %v", junk, err)
			}
			if err := s.RequestConfirmation(ctx, junk); err != nil {
				t.Errorf("RequestConfirmation(%q): %v", junk, err)
			}
		}
		if err := s.RequestPasswordReset(ctx, " Nobody@Example.com "); err != nil {
			t.Fatal(err)
		}
		var payloads []string
		if err := d.Gorm.Table("outbox").Pluck("payload", &payloads).Error; err != nil {
			t.Fatal(err)
		}
		if len(payloads) != 1 {
			t.Fatalf("%d mails written, want 1: %q", len(payloads), payloads)
		}
		var m users.AccountMail
		if err := json.Unmarshal([]byte(payloads[0]), &m); err != nil || m.Email != "nobody@example.com" || m.Kind != users.MailResetPassword {
			t.Errorf("mail written: %+v (%v)", m, err)
		}
	})
}
