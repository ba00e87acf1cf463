package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// dataDirLock is held for as long as a server uses its data dir: two servers
// on one SQLite datastore and one set of sockets would break each other.
type dataDirLock struct{ f *os.File }

// lockDataDir takes the data dir's lock, or says which process holds it.
func lockDataDir(dir string) (*dataDirLock, error) {
	path := filepath.Join(dir, "server.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder, _ := os.ReadFile(path)
			return nil, fmt.Errorf("data dir %s is in use by another skiff server (pid %s): stop it, or give this one another --data-dir",
				dir, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataDirLock{f: f}, nil
}

// release gives the lock up; closing the file drops it.
func (l *dataDirLock) release() {
	if l != nil {
		l.f.Close()
	}
}
