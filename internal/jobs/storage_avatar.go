package jobs

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/images"
	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/users"
)

// TypeAvatarVariants makes the square copies (users.AvatarSizes) of a new
// profile picture, queued through the outbox with it. Until they are
// stored, pages show the picture itself, scaled by the browser.
const TypeAvatarVariants = users.TaskAvatarVariants

var avatarVariantsTask = Task{
	Type:    TypeAvatarVariants,
	Options: standardRetries(QueueDefault),
	Handle:  (*Handlers).makeAvatarVariants,
}

func (h *Handlers) makeAvatarVariants(ctx context.Context, t *asynq.Task) error {
	p, err := payloadOf[users.AvatarPayload](t)
	if err != nil {
		return err
	}
	if !storage.ValidKey(p.Key) {
		return fmt.Errorf("%s: %q is not a storage key: %w", t.Type(), p.Key, asynq.SkipRetry)
	}
	body, _, err := h.Files.Store.Open(ctx, p.Key)
	if err == storage.ErrNotFound {
		// Replaced (and deleted) before its copies were made.
		h.Logger.InfoContext(ctx, "picture gone before its copies were made", "user_id", p.UserID)
		return nil
	} else if err != nil {
		return err
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(body)
	body.Close()
	if err != nil {
		return err
	}
	img, _, err := images.Decode(bytes.NewReader(buf.Bytes()), images.MaxPixels)
	if err != nil {
		// Stored by the site after it decoded it: this one never will.
		return fmt.Errorf("%s: %s: %v: %w", t.Type(), p.Key, err, asynq.SkipRetry)
	}
	made := users.AvatarFiles(p.Key)[1:]
	for i, size := range users.AvatarSizes {
		// A copy is written as its original was: the key's extension
		// says which.
		ct := storage.TypeOfKey(made[i])
		data, err := images.EncodeAs(images.Square(img, size), ct)
		if err != nil {
			return fmt.Errorf("%s: %v: %w", t.Type(), err, asynq.SkipRetry)
		}
		if err := h.Files.Store.Put(ctx, made[i], bytes.NewReader(data), int64(len(data)), ct); err != nil {
			return err
		}
	}
	current, err := h.Users.SetAvatarVariants(ctx, p.UserID, p.Key)
	if err != nil {
		return err
	}
	if !current {
		// Replaced while the copies were made: they belong to nobody.
		return h.Files.Delete(ctx, made)
	}
	h.Logger.InfoContext(ctx, "picture copies made", "user_id", p.UserID, "sizes", strconv.Itoa(len(made)))
	return nil
}
