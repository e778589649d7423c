// The files of records: what the handlers of a resource with file or
// image fields (go run ./tools/scaffold NAME … receipt:file photo:image)
// share. An upload is stored under a new key before its record is saved,
// deleted again when the record is not saved after all, and served to
// whoever may see the record.

package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/launchkit/launchkit/internal/images"
	"github.com/launchkit/launchkit/internal/storage"
)

// storeFile keeps up in the file store, as it was sent, under a new key
// in dir (the resource's folder, such as "invoices"), and returns the
// key. Its type is the one its bytes say (up.ContentType), which names
// the key's extension.
func (s *Server) storeFile(ctx context.Context, dir string, up *upload) (string, error) {
	key := storage.NewKey(dir, up.ContentType)
	if err := s.storage.Put(ctx, key, up.File, up.Size, up.ContentType); err != nil {
		return "", fmt.Errorf("store an upload as %s: %w", key, err)
	}
	return key, nil
}

// notPictureProblem is what a picture field says of a file that is not one.
const notPictureProblem = "Choose a PNG, JPEG, GIF or WebP picture."

// pictureMaxSide is the longest side a picture field keeps: a larger
// picture is scaled down to it (a 600 dpi scan of an A4 page is 4960 ×
// 7016 pixels, and fits).
const pictureMaxSide = 8192

// storePicture keeps up, which must be a PNG, JPEG, GIF or WebP picture,
// in the file store under a new key in dir. It is decoded (at most
// images.MaxPixels, and one at a time in the process) and stored
// as images.Reencode writes it again: its pixels alone, so no metadata
// (EXIF, GPS positions) is kept and a file that is a picture and
// something else at once (a polyglot) does not get through. It returns
// the key, or, when up is no such picture, the problem to show beside
// the field.
func (s *Server) storePicture(ctx context.Context, dir string, up *upload) (key, problem string, err error) {
	// The types a picture field takes, by their bytes, are the raster
	// images a browser shows in place.
	if !storage.Inlineable(up.ContentType) {
		return "", notPictureProblem, nil
	}
	data, contentType, err := images.Reencode(ctx, up.File, images.MaxPixels, pictureMaxSide)
	switch {
	case errors.Is(err, images.ErrTooLarge):
		return "", fmt.Sprintf("The picture has too many pixels: choose one of at most %d megapixels.", images.MaxPixels/1_000_000), nil
	case errors.Is(err, images.ErrNotImage):
		return "", notPictureProblem, nil
	case err != nil:
		return "", "", fmt.Errorf("read a picture: %w", err)
	}
	key = storage.NewKey(dir, contentType)
	if err := s.storage.Put(ctx, key, bytes.NewReader(data), int64(len(data)), contentType); err != nil {
		return "", "", fmt.Errorf("store a picture as %s: %w", key, err)
	}
	return key, "", nil
}

// discardFiles deletes the objects stored for a record that was not saved
// after all (the form came back with problems, or saving failed). It does
// its best and logs what it could not delete: no record tracks those
// objects, so the daily sweep deletes them (storage.SweepGrace).
func (s *Server) discardFiles(ctx context.Context, keys []string) {
	ctx = context.WithoutCancel(ctx) // a client gone away still gets its files deleted
	for _, key := range keys {
		if err := s.storage.Delete(ctx, key); err != nil {
			s.logger.WarnContext(ctx, "could not delete the upload of a record not saved; the sweep will", "key", key, "err", err)
		}
	}
}

// serveFile answers r with the stored object of key (storage.Serve): an
// attachment named d.Filename, or shown in the browser when d.Inline and
// it is a picture. The caller has checked that the visitor may see the
// record that owns it. The answer is Cache-Control: private, no-store,
// like every page of a signed-in user: a record's files are for its
// owner, not for a shared cache nor for the disk of a computer they
// leave, and the address of a record's file stays the same when the file
// is replaced. An object gone meanwhile (its record just changed) is a
// 404.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, key string, d storage.Download) error {
	w.Header().Set("Cache-Control", privateNoStore)
	err := storage.Serve(w, r, s.storage, key, d)
	if errors.Is(err, storage.ErrNotFound) {
		return errNotFound
	}
	return err
}
