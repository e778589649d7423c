package main

import (
	"strings"
	"testing"
)

// TestFilterKeepsInternalAndCmd: the merged profile keeps its mode line
// and the blocks of internal/ and cmd/ packages, without internal/testenv,
// tools/ or other modules, and each package's tally counts a block's
// statements once, covered when its count is above zero.
func TestFilterKeepsInternalAndCmd(t *testing.T) {
	const module = "example.com/app"
	profile := strings.Join([]string{
		"mode: set",
		"example.com/app/internal/config/load.go:10.2,12.3 3 1",
		"example.com/app/internal/config/load.go:13.2,14.3 2 0",
		"example.com/app/internal/config/keys.go:5.1,6.2 1 1",
		"example.com/app/cmd/web/main.go:20.1,22.2 4 0",
		"example.com/app/internal/testenv/app.go:1.1,2.2 7 1",
		"example.com/app/tools/cover/main.go:1.1,2.2 5 1",
		"example.com/app/e2e/browser.go:1.1,2.2 5 1",
		"example.com/application/internal/x/x.go:1.1,2.2 9 1",
		"",
	}, "\n")
	kept, pkgs, err := filter([]byte(profile), module)
	if err != nil {
		t.Fatal(err)
	}
	wantKept := strings.Join([]string{
		"mode: set",
		"example.com/app/internal/config/load.go:10.2,12.3 3 1",
		"example.com/app/internal/config/load.go:13.2,14.3 2 0",
		"example.com/app/internal/config/keys.go:5.1,6.2 1 1",
		"example.com/app/cmd/web/main.go:20.1,22.2 4 0",
		"",
	}, "\n")
	if string(kept) != wantKept {
		t.Errorf("kept:\n%s\nwant:\n%s", kept, wantKept)
	}
	want := map[string]tally{"internal/config": {statements: 6, covered: 4}, "cmd/web": {statements: 4}}
	if len(pkgs) != len(want) {
		t.Errorf("packages = %v, want %v", pkgs, want)
	}
	for rel, w := range want {
		if pkgs[rel] != w {
			t.Errorf("%s = %+v, want %+v", rel, pkgs[rel], w)
		}
	}
	if got := pkgs["internal/config"].percent(); got < 66.6 || got > 66.7 {
		t.Errorf("internal/config percent = %.2f, want 66.67", got)
	}

	if _, _, err := filter([]byte("mode: set\nexample.com/app/internal/x/x.go:1.1,2.2 many 1\n"), module); err == nil {
		t.Error("a malformed line was accepted")
	}
}
