package localstore

import (
	"sync"

	"github.com/nimbus-desktop/nimbus/model"
)

// Event says a record changed (after the commit that changed it).
type Event struct {
	NS  model.Namespace
	Key string
	// Remote: the change came from a pull (PutRemote), not a local write.
	Remote bool
	// Overflow: the subscriber fell behind and events were dropped; NS and
	// Key are empty and the subscriber should reload everything it shows.
	Overflow bool
}

// Subscribe returns a channel of change events and a cancel function.
// Publishing never blocks a writer: each subscription queues up to buf
// events (at least 1); when the queue is full, every undelivered event is
// discarded and the next event the subscriber reads is one Overflow event
// (reload everything), followed by events published after it. The Overflow
// is delivered as soon as the subscriber reads again, without waiting for
// another write. cancel is idempotent and closes the channel;
// Close on the store closes every subscription. After Close the returned
// channel is already closed.
func (s *Store) Subscribe(buf int) (<-chan Event, func()) {
	return s.bus.subscribe(buf)
}

// bus fans events out to subscriptions.
type bus struct {
	mu     sync.Mutex
	subs   map[*subscription]struct{}
	closed bool
}

func newBus() *bus { return &bus{subs: make(map[*subscription]struct{})} }

// subscription holds a bounded queue that the writer appends to without
// blocking, and a pump goroutine that moves it to the subscriber's channel.
// The pump is what lets an Overflow reach the subscriber as soon as it reads
// again, even if no further event is ever published.
type subscription struct {
	out  chan Event
	wake chan struct{} // capacity 1: "the queue changed"
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	queue    []Event
	max      int
	overflow bool
}

func (b *bus) subscribe(buf int) (<-chan Event, func()) {
	if buf < 1 {
		buf = 1
	}
	s := &subscription{
		out:  make(chan Event),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		max:  buf,
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(s.out)
		return s.out, func() {}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.pump()
	cancel := func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.stop()
	}
	return s.out, cancel
}

// publish hands events to every subscription; it only takes short locks.
func (b *bus) publish(evs []Event) {
	if len(evs) == 0 {
		return
	}
	// Push outside the bus lock so that Subscribe and cancel never wait for
	// a publisher.
	b.mu.Lock()
	subs := make([]*subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.push(evs)
	}
}

func (b *bus) close() {
	b.mu.Lock()
	subs := b.subs
	b.subs = map[*subscription]struct{}{}
	b.closed = true
	b.mu.Unlock()
	for s := range subs {
		s.stop()
	}
}

func (s *subscription) push(evs []Event) {
	s.mu.Lock()
	for _, ev := range evs {
		if len(s.queue) >= s.max {
			// Queued events are moot once one is lost: the subscriber
			// reloads everything on Overflow, which covers them too.
			s.queue = s.queue[:0]
			s.overflow = true
			continue
		}
		s.queue = append(s.queue, ev)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next takes the next event to deliver: a pending Overflow first.
func (s *subscription) next() (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overflow {
		s.overflow = false
		return Event{Overflow: true}, true
	}
	if len(s.queue) == 0 {
		return Event{}, false
	}
	ev := s.queue[0]
	s.queue = s.queue[1:]
	if len(s.queue) == 0 {
		s.queue = nil // let the drained backing array go
	}
	return ev, true
}

// takeOverflow clears and reports a pending Overflow.
func (s *subscription) takeOverflow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.overflow
	s.overflow = false
	return o
}

// pump delivers queued events. While it waits for the subscriber to take
// one, an overflow replaces that event too, so after falling behind the
// very next thing the subscriber reads is the Overflow.
func (s *subscription) pump() {
	defer close(s.out)
	for {
		ev, ok := s.next()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-s.done:
				return
			}
		}
		for sent := false; !sent; {
			select {
			case s.out <- ev:
				sent = true
			case <-s.wake:
				if s.takeOverflow() {
					ev = Event{Overflow: true}
				}
			case <-s.done:
				return
			}
		}
	}
}

func (s *subscription) stop() { s.once.Do(func() { close(s.done) }) }
