package ui

import (
	"strings"
	"sync"
	"time"

	"github.com/nimbus-desktop/nimbus/model"
	"github.com/nimbus-desktop/nimbus/workspace"
)

// coalesceEvery is how often store change events reach the views: often
// enough to feel live, rarely enough that an import of 10,000 pages is a few
// dozen refreshes rather than 10,000.
const coalesceEvery = 100 * time.Millisecond

// changeSet is the set of keys that changed since the last delivery.
type changeSet struct {
	// overflow: events were dropped; views reload everything they show.
	overflow bool
	keys     map[string]model.Namespace
}

// keysOf returns the changed keys of one kind within one project, e.g. every
// changed "status:proj_x:..." key.
func (c *changeSet) keysOf(kind model.Kind, projectID string) []string {
	prefix := model.ProjectPrefix(kind, projectID)
	var out []string
	for k := range c.keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// any reports whether a key of one of the namespaces changed.
func (c *changeSet) any(nss ...model.Namespace) bool {
	if c.overflow {
		return true
	}
	for _, ns := range c.keys {
		for _, want := range nss {
			if ns == want {
				return true
			}
		}
	}
	return false
}

// hub turns the store's event stream into coalesced change sets delivered
// on the Fyne goroutine.
type hub struct {
	mu      sync.Mutex
	pending changeSet
	cancel  func()
	stop    chan struct{}
	deliver func(*changeSet)
}

// newHub subscribes to s. With auto set, a ticker delivers pending changes
// through do (fyne.Do); otherwise (tests) Flush delivers them synchronously.
func newHub(s interface {
	Subscribe(int) (<-chan workspace.StoreEvent, func())
}, auto bool, do func(func()), deliver func(*changeSet)) *hub {
	ch, cancel := s.Subscribe(4096)
	h := &hub{cancel: cancel, stop: make(chan struct{}), deliver: deliver}
	h.pending.keys = map[string]model.Namespace{}
	go func() {
		for ev := range ch {
			h.mu.Lock()
			if ev.Overflow {
				h.pending.overflow = true
			} else {
				h.pending.keys[ev.Key] = ev.NS
			}
			h.mu.Unlock()
		}
	}()
	if auto {
		go func() {
			t := time.NewTicker(coalesceEvery)
			defer t.Stop()
			for {
				select {
				case <-h.stop:
					return
				case <-t.C:
					if cs := h.take(); cs != nil {
						do(func() { h.deliver(cs) })
					}
				}
			}
		}()
	}
	return h
}

// take returns and clears the pending changes (nil when there are none).
func (h *hub) take() *changeSet {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.pending.overflow && len(h.pending.keys) == 0 {
		return nil
	}
	cs := h.pending
	h.pending = changeSet{keys: map[string]model.Namespace{}}
	return &cs
}

// has reports whether key is pending (tests wait for their write's event).
func (h *hub) has(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.pending.keys[key]
	return ok
}

// flush delivers pending changes now, on the caller's goroutine.
func (h *hub) flush() {
	if cs := h.take(); cs != nil {
		h.deliver(cs)
	}
}

func (h *hub) close() {
	h.cancel()
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
}
