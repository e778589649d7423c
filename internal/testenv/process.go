package testenv

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a Launchkit binary started by a test, with its output
// collected as it runs.
type Process struct {
	t    testing.TB
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// Start runs cmd and collects its stdout and stderr. The process is
// killed at the end of the test if it is still running.
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{t: t, cmd: cmd, done: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		s := bufio.NewScanner(pr)
		s.Buffer(make([]byte, 1<<20), 1<<20)
		for s.Scan() {
			p.mu.Lock()
			p.out.Write(s.Bytes())
			p.out.WriteByte('\n')
			p.mu.Unlock()
		}
	}()
	go func() {
		p.err = cmd.Wait()
		_ = pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", cmd.Path, p.Output())
		}
	})
	return p
}

// Output is everything the process printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// WaitForOutput waits until the output matches re and returns the last
// group that matched (or the whole match when re has no group).
func (p *Process) WaitForOutput(re *regexp.Regexp, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(p.Output()); m != nil {
			for i := len(m) - 1; i > 0; i-- {
				if m[i] != "" {
					return m[i] // the last group that matched
				}
			}
			return m[0]
		}
		select {
		case <-p.done:
			p.t.Fatalf("%s exited (%v) before printing %s:\n%s", p.cmd.Path, p.err, re, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not print %s within %s:\n%s", p.cmd.Path, re, timeout, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)|"msg":"listening","addr":"([^"]+)"`)

// WaitListening waits for the web server's "listening" log line and
// returns its base URL.
func (p *Process) WaitListening() string {
	p.t.Helper()
	addr := p.WaitForOutput(listening, 60*time.Second)
	addr = strings.Replace(addr, "[::]", "127.0.0.1", 1)
	return "http://" + addr
}

// Terminate sends SIGTERM.
func (p *Process) Terminate() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
}

// Wait waits for the process to exit and returns its exit code.
func (p *Process) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%s still running after %s:\n%s", p.cmd.Path, timeout, p.Output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process: SIGKILL for a crash, SIGSTOP and
// SIGCONT to freeze and thaw it.
func (p *Process) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v", sig, err)
	}
}

// PID is the process's ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }
