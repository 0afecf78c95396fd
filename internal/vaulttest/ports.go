package vaulttest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Ports are chosen outside the kernel's ephemeral range where there is room
// (below it on Linux's default 32768-60999): the kernel hands ephemeral
// ports out as the source ports of outgoing connections (every CLI call,
// every plugin and vendor request), so a port found free there can be taken
// by a connection before the server binds it.
const (
	lowestPort  = 10000
	highestPort = 65535
	// Linux's default ephemeral range, used when /proc does not say.
	defaultEphemeralLow  = 32768
	defaultEphemeralHigh = 60999
	ephemeralRangeFile   = "/proc/sys/net/ipv4/ip_local_port_range"
)

// handedOut holds every port FreePorts has returned in this process, so
// that two tests running in parallel never get the same port while the
// first has not bound it yet.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePorts returns the first of n consecutive TCP ports on 127.0.0.1 that
// were free a moment ago and that this process has not handed out before.
// (A dev Vault listens on port p and its cluster listener on p+1.) Another
// process may still take them before they are used, so callers retry on
// "address already in use".
func FreePorts(n int) (int, error) {
	if n < 1 {
		return 0, fmt.Errorf("FreePorts(%d): want at least one port", n)
	}
	low, high := portWindow(n)
	handedOut.Lock()
	defer handedOut.Unlock()
	const attempts = 100
	for range attempts {
		first := low + rand.IntN(high-low-n+2) //nolint:gosec // a port number, not a secret
		if portsFree(first, n) {
			for p := first; p < first+n; p++ {
				handedOut.ports[p] = true
			}
			return first, nil
		}
	}
	return 0, fmt.Errorf("no %d consecutive free ports on 127.0.0.1 between %d and %d after %d attempts", n, low, high, attempts)
}

// portsFree reports whether ports first..first+n-1 were never handed out
// and can each be bound on 127.0.0.1 now.
func portsFree(first, n int) bool {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	for p := first; p < first+n; p++ {
		if handedOut.ports[p] {
			return false
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			return false
		}
		held = append(held, l)
	}
	return true
}

// portWindow returns the ports [low, high] to choose n consecutive ports
// from: below the ephemeral range, else above it, else (a machine whose
// ephemeral range leaves no room) every port from lowestPort up.
func portWindow(n int) (low, high int) {
	eLow, eHigh := ephemeralRange()
	const room = 100 // spare ports per port asked for, so that random picks rarely collide
	switch {
	case eLow-1-lowestPort >= room*n:
		return lowestPort, eLow - 1
	case highestPort-eHigh-1 >= room*n:
		return eHigh + 1, highestPort
	default:
		return lowestPort, highestPort
	}
}

// ephemeralRange returns the kernel's ephemeral port range.
func ephemeralRange() (low, high int) {
	b, err := os.ReadFile(ephemeralRangeFile)
	if err != nil {
		return defaultEphemeralLow, defaultEphemeralHigh
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return defaultEphemeralLow, defaultEphemeralHigh
	}
	low, errLow := strconv.Atoi(fields[0])
	high, errHigh := strconv.Atoi(fields[1])
	if errLow != nil || errHigh != nil || low > high {
		return defaultEphemeralLow, defaultEphemeralHigh
	}
	return low, high
}
