package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// binaries builds what the bench runs, the way `make build` does
// (static, trimmed, stripped, tagged nodev), into dir, and returns their paths by name.
// "initfloor" links every package bin/web does and runs nothing: the
// memory and time that initialising those libraries costs by itself.
func binaries(ctx context.Context, dir string) (map[string]string, error) {
	pkgs := map[string]string{
		"web": "./cmd/web", "worker": "./cmd/worker", "manage": "./cmd/manage",
		"baseline": "./tools/bench/baseline", "initfloor": "./tools/bench/initfloor",
	}
	overlay, err := initFloorOverlay(ctx, dir)
	if err != nil {
		return nil, err
	}
	args := []string{"build", "-tags", "nodev", "-trimpath", "-ldflags=-s -w", "-overlay", overlay, "-o", dir + string(os.PathSeparator)}
	for _, p := range pkgs {
		args = append(args, p)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	paths := make(map[string]string, len(pkgs))
	for name := range pkgs {
		paths[name] = filepath.Join(dir, name)
	}
	return paths, nil
}

// initFloorOverlay writes the source of the initfloor program (a blank
// import of every non-standard package bin/web links, and a sleep) into
// dir and returns a go build -overlay file placing it at
// tools/bench/initfloor, so the source tree is never written to.
func initFloorOverlay(ctx context.Context, dir string) (string, error) {
	goList := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "go", append([]string{"list"}, args...)...)
		cmd.Dir = moduleRoot()
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("go list: %w", err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	module, err := goList("-m")
	if err != nil {
		return "", err
	}
	out, err := goList("-deps", "-tags", "nodev", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/web")
	if err != nil {
		return "", err
	}
	self := module + "/"
	var src strings.Builder
	src.WriteString("package main\n\nimport (\n\t\"time\"\n")
	for _, p := range strings.Fields(out) {
		// Other modules' internal packages cannot be imported from here;
		// the packages that import them bring them (and their init) in.
		foreign := !strings.HasPrefix(p, self) && (strings.Contains(p, "/internal/") || strings.HasSuffix(p, "/internal"))
		if p == self+"cmd/web" || foreign || strings.HasPrefix(p, "vendor/") {
			continue
		}
		fmt.Fprintf(&src, "\t_ %q\n", p)
	}
	src.WriteString(")\n\nfunc main() { time.Sleep(time.Hour) }\n")
	file := filepath.Join(dir, "initfloor.go")
	if err := os.WriteFile(file, []byte(src.String()), 0o644); err != nil {
		return "", err
	}
	overlay, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(moduleRoot(), "tools", "bench", "initfloor", "main.go"): file},
	})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "overlay.json")
	return path, os.WriteFile(path, overlay, 0o644)
}

// moduleRoot is the directory holding go.mod, found upwards from the
// working directory (make bench runs at the root; go test in tools/bench).
func moduleRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// proc is a binary the bench started.
type proc struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	err     error
	mu      sync.Mutex
	tail    []string // the last lines it printed, for error messages
}

// startProc runs bin with args and exactly env (no inherited variables),
// in dir, keeping the last lines of its output.
func startProc(name, bin string, args, env []string, dir string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		_ = pr.Close()
		_ = pw.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	_ = pw.Close()
	go func() {
		s := bufio.NewScanner(pr)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			p.mu.Lock()
			p.tail = append(p.tail, s.Text())
			if len(p.tail) > 20 {
				p.tail = p.tail[len(p.tail)-20:]
			}
			p.mu.Unlock()
		}
		_ = pr.Close()
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// output is the last lines the process printed.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// stop sends SIGTERM and waits for the exit, killing after 20 seconds.
func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 20s of SIGTERM", p.name)
	}
	if p.err != nil {
		return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.output())
	}
	return nil
}

// waitHTTP polls url until it answers 200, returning how long after the
// process started that was. It fails when the process exits or timeout
// passes. Polls are a millisecond apart, each on a new connection.
func (p *proc) waitHTTP(url string, timeout time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for {
		res, err := client.Get(url)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(p.started), nil
			}
		}
		select {
		case <-p.done:
			return 0, fmt.Errorf("%s exited before answering: %v\n%s", p.name, p.err, p.output())
		default:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: no 200 from %s within %s (last error %v)\n%s", p.name, url, timeout, err, p.output())
		}
		time.Sleep(time.Millisecond)
	}
}

// rssKiB is the process's resident set size now, from /proc.
func (p *proc) rssKiB() (int64, error) {
	return procStatus(p.cmd.Process.Pid, "VmRSS")
}

// memory is a process's resident memory, split by kind: anonymous pages
// are its own (heap, stacks); file pages are the binary's code and data
// mapped from disk, shared with every process running it and dropped by
// the kernel first when memory is short.
type memory struct{ rss, anon, file int64 } // KiB

func (p *proc) memory() (memory, error) {
	var m memory
	var err error
	for _, f := range []struct {
		name string
		v    *int64
	}{{"VmRSS", &m.rss}, {"RssAnon", &m.anon}, {"RssFile", &m.file}} {
		if *f.v, err = procStatus(p.cmd.Process.Pid, f.name); err != nil {
			return m, err
		}
	}
	return m, nil
}

// procStatus reads one "Name:  123 kB" line of /proc/PID/status.
func procStatus(pid int, field string) (int64, error) {
	return procStatusFile(fmt.Sprintf("/proc/%d/status", pid), field)
}

// peakSampler follows a process's RSS while something runs, sampling
// every few milliseconds, and also reads the kernel's high-water mark
// (VmHWM, reset at the start when the kernel allows).
type peakSampler struct {
	p    *proc
	stop chan struct{}
	done chan struct{}
	peak int64
	// hwm says VmHWM was reset at the start, so it covers only this span.
	hwm bool
}

func samplePeak(p *proc) *peakSampler {
	// Writing 5 to clear_refs resets VmHWM to the current RSS.
	err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0)
	s := &peakSampler{p: p, stop: make(chan struct{}), done: make(chan struct{}), hwm: err == nil}
	go func() {
		defer close(s.done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if kib, err := p.rssKiB(); err == nil {
				s.peak = max(s.peak, kib)
			}
			select {
			case <-t.C:
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

// finish stops sampling and returns the peak RSS in KiB.
func (s *peakSampler) finish() int64 {
	close(s.stop)
	<-s.done
	if hwm, err := procStatus(s.p.cmd.Process.Pid, "VmHWM"); err == nil && s.hwm {
		s.peak = max(s.peak, hwm)
	}
	return s.peak
}

// freeAddr returns a loopback host:port nobody listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
