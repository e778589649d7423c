package e2e_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// colorScheme makes the page see prefers-color-scheme: scheme.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// TestAdminUsersPagesFitAPhone: the admin's users list (a page of a
// sorted list, and a search with no match), the new-user form and the
// profile scroll no wider than the screen at 360 and 1280 px, light and
// dark: a table wider than a phone scrolls inside its own box. With
// E2E_SCREENSHOTS=1 each is saved for a person to look at.
func TestAdminUsersPagesFitAPhone(t *testing.T) {
	b := newBrowser(t)
	base, a := site(t, nil)
	ctx := context.Background()
	if _, err := a.Users.Create(ctx, "root@example.com", "root keeps the keys 1969", "admin"); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if _, err := a.Users.Create(ctx, fmt.Sprintf("a.rather.long.address.%02d@accounts.example.com", i), "root keeps the keys 1969"); err != nil {
			t.Fatal(err)
		}
	}
	b.do(t,
		chromedp.Navigate(base+"/user/sign-in"),
		chromedp.SendKeys(chromedp.CSS("#email"), "root@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "root keeps the keys 1969"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`.account-menu .menu-label`)),
	)
	pages := []struct{ name, path string }{
		{"admin-users", "/admin/users?sort=-email&page=2"},
		{"admin-users-no-match", "/admin/users?q=nobody"},
		{"admin-new-user", "/admin/users/new"},
		{"profile", "/user/profile"},
	}
	for _, scheme := range []string{"light", "dark"} {
		for _, width := range []int64{360, 1280} {
			b.do(t, colorScheme(scheme), chromedp.EmulateViewport(width, 800))
			for _, p := range pages {
				b.do(t, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS("main")))
				if got := get(t, b, chromedp.Evaluate[int64]("document.documentElement.scrollWidth")); got > width {
					t.Errorf("%s at %d px (%s) scrolls sideways: the page is %d px wide", p.path, width, scheme, got)
				}
				b.screenshot(t, fmt.Sprintf("%s-%d-%s", p.name, width, scheme))
			}
		}
	}
	// A page of a long list, sorted and paged, with axe-core too (the
	// page walk checks the list with a handful of accounts).
	b.do(t, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+pages[0].path), chromedp.WaitVisible(chromedp.CSS("main")))
	accessible(t, b, pages[0].name)
	for _, p := range b.reported("") {
		t.Errorf("the browser reported: %s", p)
	}
}
