// Profile pictures: the key of each user's picture in the file store,
// given and taken in the transactions that track and release its files
// (internal/storage), and its resized copies, made by a background task.

package users

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/launchkit/launchkit/internal/outbox"
	"github.com/launchkit/launchkit/internal/storage"
)

// AvatarSizes are the square copies the storage:avatar task makes of a
// picture, in pixels: 64 for the top bar and lists (shown at 32 CSS
// pixels, sharp on high-density screens), 256 for the profile page.
var AvatarSizes = []int{64, 256}

// AvatarMaxSide is the longest side a stored picture keeps: a bigger
// upload is scaled down to it (images.Fit) when it is re-encoded.
const AvatarMaxSide = 1024

// TaskAvatarVariants makes the resized copies of a new picture (payload
// AvatarPayload), queued through the outbox with the picture.
const TaskAvatarVariants = "storage:avatar"

// AvatarPayload names the picture whose copies are wanted.
type AvatarPayload struct {
	UserID uint   `json:"user_id"`
	Key    string `json:"key"`
}

// AvatarFiles are the keys of a picture and of its copies.
func AvatarFiles(key string) []string {
	if key == "" {
		return nil
	}
	keys := []string{key}
	for _, size := range AvatarSizes {
		keys = append(keys, storage.Variant(key, strconv.Itoa(size)))
	}
	return keys
}

// SetAvatar makes the stored object key user id's picture, in one
// transaction: key is tracked, the previous picture and its copies are
// released (their deletion queued), and the task that makes key's copies
// is queued. The caller has stored key, and calls Outbox.Send after.
func (s *Service) SetAvatar(ctx context.Context, id uint, key string) error {
	if !storage.ValidKey(key) {
		return fmt.Errorf("set the picture of user %d: %q is not a storage key", id, key)
	}
	payload, err := json.Marshal(AvatarPayload{UserID: id, Key: key})
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		old, err := avatarOf(tx, id)
		if err != nil {
			return err
		}
		if err := tx.Model(&User{}).Where("id = ?", id).Updates(map[string]any{"avatar_key": key, "avatar_variants": false}).Error; err != nil {
			return err
		}
		if err := storage.Track(tx, key); err != nil {
			return err
		}
		if err := storage.Release(tx, AvatarFiles(old)...); err != nil {
			return err
		}
		return outbox.Add(tx, TaskAvatarVariants, payload)
	})
	if err != nil {
		return fmt.Errorf("set the picture of user %d: %w", id, err)
	}
	return nil
}

// RemoveAvatar takes user id's picture away and releases its files.
func (s *Service) RemoveAvatar(ctx context.Context, id uint) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		old, err := avatarOf(tx, id)
		if err != nil || old == "" {
			return err
		}
		if err := tx.Model(&User{}).Where("id = ?", id).Updates(map[string]any{"avatar_key": nil, "avatar_variants": false}).Error; err != nil {
			return err
		}
		return storage.Release(tx, AvatarFiles(old)...)
	})
	if err != nil {
		return fmt.Errorf("remove the picture of user %d: %w", id, err)
	}
	return nil
}

// SetAvatarVariants records that the copies of picture key are stored,
// and tracks them, if key is still user id's picture; false when it is
// not (it was replaced or removed meanwhile, or the user deleted): the
// caller then deletes the copies it made.
func (s *Service) SetAvatarVariants(ctx context.Context, id uint, key string) (bool, error) {
	current := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now, err := avatarOf(tx, id)
		if errors.Is(err, ErrNotFound) || (err == nil && now != key) {
			return nil
		} else if err != nil {
			return err
		}
		if err := tx.Model(&User{}).Where("id = ?", id).Update("avatar_variants", true).Error; err != nil {
			return err
		}
		current = true
		return storage.Track(tx, AvatarFiles(key)[1:]...)
	})
	if err != nil {
		return false, fmt.Errorf("record the picture copies of user %d: %w", id, err)
	}
	return current, nil
}

// avatarOf reads user id's picture key in tx ("" for none), locking the
// row so that two changes of one picture at once follow each other (each
// releases what the other set); ErrNotFound when there is no such user.
// SQLite needs no lock: its writers go one at a time.
func avatarOf(tx *gorm.DB, id uint) (string, error) {
	var keys []sql.NullString
	q := tx.Model(&User{}).Where("id = ?", id).Limit(1)
	if tx.Dialector.Name() != "sqlite" {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Pluck("avatar_key", &keys).Error; err != nil {
		return "", err
	}
	if len(keys) == 0 {
		return "", ErrNotFound
	}
	return keys[0].String, nil
}
