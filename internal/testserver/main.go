package testserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// M is the part of *testing.M that Main uses.
type M interface{ Run() int }

// Main runs a test package against one shared server, for use in TestMain:
// it builds the binary (or takes $SKIFF_BIN), launches a server on a fresh
// data dir, hands it to use, runs the tests, stops the server, and on
// failure keeps the data dir and prints the end of the server's log. It
// returns the exit code for os.Exit.
func Main(m M, opts Options, use func(*Server)) int {
	dir, err := os.MkdirTemp("", "skiff-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if opts.Binary == "" {
		if opts.Binary, err = BuildBinary(ctx, filepath.Join(dir, "bin")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(dir, "data")
	}
	if opts.LogPath == "" {
		opts.LogPath = filepath.Join(dir, "server.log")
	}
	s, err := Launch(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	use(s)
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "skiff server data and log kept in %s; last 100 lines of the log:\n%s\n", dir, s.LogTail(100))
		return code
	}
	os.RemoveAll(dir)
	return code
}
