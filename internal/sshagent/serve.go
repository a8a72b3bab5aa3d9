package sshagent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/sys/unix"
)

// dialTimeout bounds connecting to the upstream agent socket.
const dialTimeout = 2 * time.Second

// maxSocketPath is the longest path bind(2) accepts for a unix socket.
const maxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1

// Serve listens on a new unix socket at path, owned by uid:gid with the given
// permission bits (uid or gid -1 leaves that id unchanged), and serves every
// connection with a read-only view of the source. For a forwarded socket each
// connection dials the upstream agent. path must not exist; its parent
// directory must. The socket only appears at path once its owner and mode are
// set. stop closes the listener and open connections and removes the socket;
// it is safe to call more than once.
func (s *Source) Serve(path string, uid, gid int, mode os.FileMode) (stop func() error, err error) {
	if s.isClosed() {
		return nil, fmt.Errorf("serving ssh agent %q: source is closed", s.id)
	}
	if mode&^fs.ModePerm != 0 {
		return nil, fmt.Errorf("serving ssh agent %q: mode %v has bits beyond permissions", s.id, mode)
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("serving ssh agent %q at %s: %w", s.id, path, fs.ErrExist)
	}

	// Bind in a private directory first so nobody can connect before the
	// owner and mode are right, then move the socket into place.
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".ssh")
	if err != nil {
		return nil, fmt.Errorf("serving ssh agent %q: creating staging dir: %w", s.id, err)
	}
	defer os.RemoveAll(tmpDir)
	tmpSock := filepath.Join(tmpDir, "s")
	if len(tmpSock) > maxSocketPath {
		return nil, fmt.Errorf("serving ssh agent %q: socket path %s is longer than %d bytes", s.id, tmpSock, maxSocketPath)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmpSock, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("serving ssh agent %q: %w", s.id, err)
	}
	l.SetUnlinkOnClose(false)
	fi, err := placeSocket(tmpSock, path, uid, gid, mode)
	if err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("serving ssh agent %q at %s: %w", s.id, path, err)
	}

	srv := &server{src: s, l: l, path: path, sock: fi, conns: map[io.Closer]struct{}{}}
	srv.wg.Add(1)
	go srv.acceptLoop()
	return srv.stop, nil
}

// placeSocket sets owner and mode of the staged socket and moves it to path
// without replacing anything there.
func placeSocket(tmp, path string, uid, gid int, mode os.FileMode) (fs.FileInfo, error) {
	if err := os.Chmod(tmp, mode); err != nil {
		return nil, fmt.Errorf("setting socket mode: %w", err)
	}
	if err := os.Lchown(tmp, uid, gid); err != nil {
		return nil, fmt.Errorf("setting socket owner: %w", err)
	}
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// File system without RENAME_NOREPLACE: link(2) also refuses to replace.
		if err = os.Link(tmp, path); err == nil {
			err = os.Remove(tmp)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("moving socket into place: %w", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("checking socket: %w", err)
	}
	return fi, nil
}

type server struct {
	src  *Source
	l    *net.UnixListener
	path string
	sock fs.FileInfo

	mu      sync.Mutex
	stopped bool
	conns   map[io.Closer]struct{}
	wg      sync.WaitGroup

	once    sync.Once
	stopErr error
}

func (srv *server) acceptLoop() {
	defer srv.wg.Done()
	for {
		c, err := srv.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || srv.isStopped() {
				return
			}
			// Out of file descriptors and the like: back off, keep serving.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !srv.track(c, true) {
			_ = c.Close()
			continue
		}
		go srv.handle(c)
	}
}

// handle serves one step connection until it closes or stop is called.
func (srv *server) handle(c net.Conn) {
	defer srv.wg.Done()
	defer srv.untrack(c)

	upstream := srv.src.keyring
	if srv.src.socket != "" {
		up, err := net.DialTimeout("unix", srv.src.socket, dialTimeout)
		if err != nil {
			// Nothing to forward to; the step sees the connection close.
			return
		}
		if !srv.track(up, false) {
			_ = up.Close()
			return
		}
		defer srv.untrack(up)
		upstream = agent.NewClient(up)
	}
	_ = serveConn(readOnly{upstream: upstream}, c)
}

// track registers a connection so stop can close it; it reports false once
// stop has begun. countWorker adds a goroutine stop waits for.
func (srv *server) track(c io.Closer, countWorker bool) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.stopped {
		return false
	}
	srv.conns[c] = struct{}{}
	if countWorker {
		srv.wg.Add(1)
	}
	return true
}

func (srv *server) untrack(c io.Closer) {
	srv.mu.Lock()
	delete(srv.conns, c)
	srv.mu.Unlock()
	_ = c.Close()
}

func (srv *server) isStopped() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.stopped
}

func (srv *server) stop() error {
	srv.once.Do(func() {
		srv.mu.Lock()
		srv.stopped = true
		conns := make([]io.Closer, 0, len(srv.conns))
		for c := range srv.conns {
			conns = append(conns, c)
		}
		srv.mu.Unlock()

		var errs []error
		if err := srv.l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("closing listener: %w", err))
		}
		for _, c := range conns {
			_ = c.Close()
		}
		srv.wg.Wait()
		// Remove the socket only if it is still the one we created.
		if fi, err := os.Lstat(srv.path); err == nil && os.SameFile(fi, srv.sock) {
			if err := os.Remove(srv.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("removing socket: %w", err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			srv.stopErr = fmt.Errorf("stopping ssh agent %q at %s: %w", srv.src.id, srv.path, err)
		}
	})
	return srv.stopErr
}
