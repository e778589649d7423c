package users_test

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/users"
)

// TestBeforeDeleteRunsInTheDeletion: each BeforeDelete function is
// called with the account's ID in the deletion's transaction, and one
// that fails stops the deletion whole.
func TestBeforeDeleteRunsInTheDeletion(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := context.Background()
		u := mustCreate(t, s, "ada@example.com")
		refuse := errors.New("not now")
		var called []uint
		s.BeforeDelete = []func(*gorm.DB, uint) error{
			func(tx *gorm.DB, id uint) error {
				// In the transaction: the row is still there.
				var n int64
				if err := tx.Model(&users.User{}).Where("id = ?", id).Count(&n).Error; err != nil || n != 1 {
					t.Errorf("the account's row in the hook: %d, %v", n, err)
				}
				called = append(called, id)
				return nil
			},
			func(*gorm.DB, uint) error { return refuse },
		}
		if err := s.Delete(ctx, 0, u.ID); !errors.Is(err, refuse) {
			t.Fatalf("Delete with a failing hook = %v, want its error", err)
		}
		if _, err := s.ByID(ctx, u.ID); err != nil {
			t.Errorf("a failing hook did not stop the deletion: %v", err)
		}
		s.BeforeDelete = s.BeforeDelete[:1]
		if err := s.Delete(ctx, 0, u.ID); err != nil {
			t.Fatal(err)
		}
		if len(called) != 2 || called[0] != u.ID || called[1] != u.ID {
			t.Errorf("the hook was called with %v, want the account's ID twice", called)
		}
	})
}
