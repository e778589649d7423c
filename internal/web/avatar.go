// Profile pictures: taking one on the profile page (re-encoded before
// it is stored, so nothing of the file but its pixels is kept), and
// serving it, to its owner and to admins only, at
// /users/{id}/avatar/{size}.

package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/launchkit/launchkit/internal/images"
	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/users"
)

// avatarFull is the size of the picture as stored, next to the square
// copies of users.AvatarSizes ("64", "256").
const avatarFull = "full"

// avatarSize reports whether size names a picture the route serves.
func avatarSize(size string) bool {
	if size == avatarFull {
		return true
	}
	for _, n := range users.AvatarSizes {
		if size == strconv.Itoa(n) {
			return true
		}
	}
	return false
}

// avatarVersion is the part of a picture's key its address carries
// (?v=): the first 8 characters of the key's random name, so that a new
// picture is a new address and the browser may keep each for a day.
func avatarVersion(key string) string {
	name := path.Base(key)
	if dot := strings.IndexByte(name, '.'); dot >= 0 {
		name = name[:dot]
	}
	return name[:min(8, len(name))]
}

// avatarURL is the address of u's picture at size ("64", "256" or
// "full"), or "" when u has none.
func avatarURL(u *users.User, size string) string {
	if u == nil || u.AvatarKey == "" {
		return ""
	}
	return "/users/" + strconv.FormatUint(uint64(u.ID), 10) + "/avatar/" + size + "?v=" + avatarVersion(u.AvatarKey)
}

// avatarView is what the "avatar" partial draws: the picture at URL, or
// the initials in a circle when there is none; Large at 128 CSS pixels
// rather than 32.
type avatarView struct {
	URL, Initials string
	Large         bool
}

// userAvatar is the "avatar" partial's data for u in a list (the admin
// users list): its 64-pixel copy, drawn at 32 CSS pixels.
func userAvatar(u users.User) avatarView {
	return avatarView{URL: avatarURL(&u, "64"), Initials: initials(&u)}
}

// The Cache-Control of a picture. Pages to a signed-in user are
// private, no-store (noStoreWhenSignedIn); a picture is not a page: it
// shows on every page (the top bar), and its address changes with it
// (avatarVersion), so the browser keeps it for a day rather than asking
// on every page. Only the browser (private): it is the picture of an
// account, shown only to its owner and the admins. A request for an
// older address, or for a copy not made yet (the original stands in
// until the storage:avatar task has made it), is kept a minute only, so
// that it soon gives way to the picture it stands for. (A minute rather
// than asking every time: htmx copies the page it leaves, pictures and
// all, and the copy's pictures load again.) A redirect to the store's
// own presigned URL is kept for less than that URL lives.
const (
	avatarCache      = "private, max-age=86400"
	avatarRecheck    = "private, max-age=60"
	avatarRedirectTo = "private, max-age=%d"
)

// avatar serves /users/{id}/avatar/{size}: the picture of user id, to
// them and to admins. Anyone else, a visitor, a user with no picture, or
// an id or size that is not one gets the same 404, so that the route
// says nothing of who has a picture.
func (s *Server) avatar(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r)
	size := chi.URLParam(r, "size")
	id, err := pathID(r, "id")
	if me == nil || err != nil || !avatarSize(size) {
		// Not kept by any cache either: whether a picture is there
		// depends on who asks.
		w.Header().Set("Cache-Control", privateNoStore)
		return errNotFound
	}
	u := me
	if id != me.ID {
		if !me.HasRole(users.RoleAdmin) {
			return errNotFound
		}
		if u, err = s.users.ByID(r.Context(), id); err != nil {
			return err // users.ErrNotFound: a 404
		}
	}
	if u.AvatarKey == "" {
		return errNotFound
	}
	key, control := u.AvatarKey, avatarCache
	if size != avatarFull {
		if u.AvatarVariants {
			key = storage.Variant(key, size)
		} else {
			control = avatarRecheck
		}
	}
	if r.URL.Query().Get("v") != avatarVersion(u.AvatarKey) {
		control = avatarRecheck
	}
	d := storage.Download{Inline: true, Filename: "avatar" + path.Ext(key)}
	// A store with addresses of its own (S3) is sent to, the browser
	// fetching the bytes from it (storage.Serve would do the same).
	to, err := s.storage.URL(r.Context(), key, d)
	if err != nil {
		return err
	}
	if to != "" {
		cachePrivately(r, fmt.Sprintf(avatarRedirectTo, int(storage.URLLifetime.Seconds())/2))
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	}
	cachePrivately(r, control)
	err = storage.Serve(w, r, s.storage, key, d)
	if errors.Is(err, storage.ErrNotFound) {
		// Released and deleted while this request loaded the user.
		return errNotFound
	}
	return err
}

// ownAvatarPath reports whether r asks for the signed-in user's own
// picture, which requireSecondFactorSetup lets through: the pages it
// allows show it in the top bar.
func ownAvatarPath(r *http.Request, u *users.User) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, "/users/")
	if !ok || u == nil {
		return false
	}
	id, rest, ok := strings.Cut(rest, "/")
	return ok && id == strconv.FormatUint(uint64(u.ID), 10) && strings.HasPrefix(rest, "avatar/")
}

// Why a picture is refused, said on the form's avatar field.
var (
	avatarNotImage = "Choose a picture: a PNG, JPEG, GIF or WebP file."
	avatarBroken   = "This file cannot be read as a picture: it is damaged, or not the PNG, JPEG, GIF or WebP file it looks like. Choose another."
	avatarTooLarge = fmt.Sprintf("This picture has too many pixels: at most %d megapixels, please.", images.MaxPixels/1_000_000)
)

// avatarPicture is a picture taken from an upload, re-encoded, ready to
// be stored.
type avatarPicture struct {
	data        []byte
	contentType string
}

// readAvatar checks and re-encodes an uploaded picture: only the image
// types a browser shows (by the bytes, not the name), decoded under the
// pixel limit (a small file may claim a huge picture: the header is read
// first), scaled down to users.AvatarMaxSide and written again from its
// pixels, so no metadata (EXIF, GPS positions) and nothing a polyglot
// file hides survives. A file refused is a field error on f (and a nil
// picture); any other error is the server's.
func readAvatar(ctx context.Context, f *form, up *upload) (*avatarPicture, error) {
	if !storage.Inlineable(up.ContentType) {
		f.fail("avatar", avatarNotImage)
		return nil, nil
	}
	// At most two pictures at once, from decoding to encoding (make
	// bench sends ten 10 MiB pictures together); a request whose
	// deadline passes, or whose client leaves, while waiting gives up.
	data, ct, err := images.Reencode(ctx, up.File, images.MaxPixels, users.AvatarMaxSide)
	switch {
	case errors.Is(err, images.ErrTooLarge):
		f.fail("avatar", avatarTooLarge)
		return nil, nil
	case errors.Is(err, images.ErrNotImage):
		f.fail("avatar", avatarBroken)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read picture: %w", err)
	}
	return &avatarPicture{data: data, contentType: ct}, nil
}

// storeAvatar stores p under a new key and makes it user id's picture;
// the old one is released with it. When the database refuses after the
// object is stored, the object is deleted (and what that misses, the
// sweep deletes: nothing tracks it).
func (s *Server) storeAvatar(ctx context.Context, id uint, p *avatarPicture) error {
	key := storage.NewKey("avatars", p.contentType)
	if err := s.storage.Put(ctx, key, bytes.NewReader(p.data), int64(len(p.data)), p.contentType); err != nil {
		return fmt.Errorf("store picture of user %d: %w", id, err)
	}
	if err := s.users.SetAvatar(ctx, id, key); err != nil {
		if derr := s.storage.Delete(context.WithoutCancel(ctx), key); derr != nil {
			s.logger.WarnContext(ctx, "could not delete an unused picture; the sweep will", "key", key, "err", derr)
		}
		return err
	}
	return nil
}
