package fakevendor

import "maps"

// Counts counts token requests.
type Counts struct {
	Requests  int64 `json:"requests"`
	Successes int64 `json:"successes"` // answered with a usable token
	Failures  int64 `json:"failures"`  // everything else, faults included
}

func (c *Counts) add(success bool) {
	c.Requests++
	if success {
		c.Successes++
	} else {
		c.Failures++
	}
}

// Stats counts the token requests a Server has seen since it started or
// since ResetStats. Admin requests and unknown paths are not counted.
type Stats struct {
	Counts

	// ByProvider counts by provider name.
	ByProvider map[string]Counts `json:"by_provider"`
	// ByAccount counts by the account id presented (client id, or access
	// key for Oracle CASB), known or not. Requests that presented none are
	// not in it.
	ByAccount map[string]Counts `json:"by_account"`
	// ByStatus counts responses by HTTP status; requests that got no
	// response (a reset, or a client that gave up during a delay) are
	// counted under 0.
	ByStatus map[int]int64 `json:"by_status"`
	// ByFault counts the injected faults by name (Fault* constants); a
	// delayed request counts under FaultDelay as well as under the fault
	// that then answered it, if any.
	ByFault map[string]int64 `json:"by_fault"`

	// InFlight is the number of token requests being answered now.
	InFlight int64 `json:"in_flight"`
	// PeakInFlight is the largest number of token requests answered at the
	// same time.
	PeakInFlight int64 `json:"peak_in_flight"`

	// JWKSFetches counts the fetches of private_key_jwt clients' jwks_uri
	// documents, failed ones included.
	JWKSFetches int64 `json:"jwks_fetches"`
}

func newStats() Stats {
	return Stats{
		ByProvider: map[string]Counts{},
		ByAccount:  map[string]Counts{},
		ByStatus:   map[int]int64{},
		ByFault:    map[string]int64{},
	}
}

func (s Stats) clone() Stats {
	s.ByProvider = maps.Clone(s.ByProvider)
	s.ByAccount = maps.Clone(s.ByAccount)
	s.ByStatus = maps.Clone(s.ByStatus)
	s.ByFault = maps.Clone(s.ByFault)
	return s
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.clone()
}

// ResetStats zeroes the counters. InFlight keeps its value, and
// PeakInFlight restarts from it.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	inFlight := s.stats.InFlight
	s.stats = newStats()
	s.stats.InFlight = inFlight
	s.stats.PeakInFlight = inFlight
}

// enter counts a token request as in flight and returns how many are.
func (s *Server) enter() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.InFlight++
	s.stats.PeakInFlight = max(s.stats.PeakInFlight, s.stats.InFlight)
	return int(s.stats.InFlight)
}

// record counts one finished token request and leaves in-flight.
func (s *Server) record(rec RequestRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.InFlight--
	s.stats.add(rec.TokenIssued)
	c := s.stats.ByProvider[rec.Provider]
	c.add(rec.TokenIssued)
	s.stats.ByProvider[rec.Provider] = c
	if rec.ClientID != "" {
		c := s.stats.ByAccount[rec.ClientID]
		c.add(rec.TokenIssued)
		s.stats.ByAccount[rec.ClientID] = c
	}
	s.stats.ByStatus[rec.Status]++
	if rec.Fault != "" {
		s.stats.ByFault[rec.Fault]++
	}
	if rec.Delayed && rec.Fault != FaultDelay {
		s.stats.ByFault[FaultDelay]++
	}
}
