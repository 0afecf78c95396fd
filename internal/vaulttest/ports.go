package vaulttest

import (
	"fmt"
	"net"
	"strconv"
)

// FreePorts returns the first of n consecutive TCP ports on 127.0.0.1 that
// were free a moment ago. (A dev Vault listens on port p and its cluster
// listener on p+1.) Another process may take them before they are used, so
// callers retry on "address already in use".
func FreePorts(n int) (int, error) {
	const attempts = 50
	for range attempts {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		first := l.Addr().(*net.TCPAddr).Port
		held := []net.Listener{l}
		ok := first+n-1 <= 65535
		for i := 1; ok && i < n; i++ {
			li, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(first+i)))
			if err != nil {
				ok = false
				break
			}
			held = append(held, li)
		}
		for _, h := range held {
			_ = h.Close()
		}
		if ok {
			return first, nil
		}
	}
	return 0, fmt.Errorf("no %d consecutive free ports on 127.0.0.1 after %d attempts", n, attempts)
}
