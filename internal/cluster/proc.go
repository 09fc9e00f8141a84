package cluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one `linewatch run --roles X -c FILE` process; it can be
// SIGKILLed and started again with the same config (same spool).
type Proc struct {
	Name  string
	Roles string
	Conf  string
	Log   string

	bin string
	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when the current process has been reaped; code is
	// then its exit status.
	exited chan struct{}
	code   int
	starts int
}

func (p *Proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s already running", p.Name)
	}
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	p.starts++
	fmt.Fprintf(logf, "=== start %d: linewatch run --roles %s -c %s\n", p.starts, p.Roles, p.Conf)
	cmd := exec.Command(p.bin, "run", "--roles", p.Roles, "-c", p.Conf, "--log-level", "info")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.code = cmd.ProcessState.ExitCode()
		p.mu.Unlock()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	return nil
}

// Start starts the process again (after Kill or Stop).
func (p *Proc) Start() error { return p.start() }

// PID of the running process (0 when not running).
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Exited reports whether the process ended by itself (not by Kill or
// Stop), and its exit code.
func (p *Proc) Exited() (bool, int) {
	p.mu.Lock()
	ch := p.exited
	p.mu.Unlock()
	if ch == nil {
		return false, 0
	}
	select {
	case <-ch:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.code
	default:
		return false, 0
	}
}

// Kill SIGKILLs the process and waits until it is gone.
func (p *Proc) Kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd, p.exited = nil, nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Stop sends SIGTERM and waits up to 20 s (linewatch stops within 10 s),
// then SIGKILLs. It returns the exit code (-1 when it had to be killed).
func (p *Proc) Stop() int {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd, p.exited = nil, nil
	p.mu.Unlock()
	if cmd == nil {
		return 0
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.code
	case <-time.After(20 * time.Second):
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		return -1
	}
}

// LogText is everything the process (all its starts) wrote.
func (p *Proc) LogText() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// ProcCPU is the user + system CPU time a running process has used so
// far (/proc/PID/stat utime + stime; the kernel's clock tick is 100 Hz on
// Linux, USER_HZ).
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unreadable", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// After ')': state is f[0]; utime and stime are fields 14 and 15 of the line, f[11] and f[12].
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * (time.Second / 100), nil
}
