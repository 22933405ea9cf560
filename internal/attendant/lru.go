package attendant

import "container/list"

// bounded is a map that holds at most max keys and forgets the least
// recently touched one to make room. The abuse guard and the re-join memory
// are keyed by caller IDs, which an attacker chooses freely: without a
// bound, spoofed numbers would be a memory leak on demand.
type bounded[K comparable, V any] struct {
	max   int
	order *list.List // of *entry[K, V], most recently touched first
	index map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key K
	val V
}

func newBounded[K comparable, V any](max int) *bounded[K, V] {
	return &bounded[K, V]{max: max, order: list.New(), index: make(map[K]*list.Element)}
}

// get returns the value of k without touching it.
func (b *bounded[K, V]) get(k K) (V, bool) {
	if e, ok := b.index[k]; ok {
		return e.Value.(*entry[K, V]).val, true
	}
	var zero V
	return zero, false
}

// touch returns k's value for update, creating it with mk when absent
// (evicting the oldest key when full), and marks it the most recent.
func (b *bounded[K, V]) touch(k K, mk func() V) V {
	if e, ok := b.index[k]; ok {
		b.order.MoveToFront(e)
		return e.Value.(*entry[K, V]).val
	}
	for b.order.Len() >= b.max && b.order.Len() > 0 {
		old := b.order.Back()
		b.order.Remove(old)
		delete(b.index, old.Value.(*entry[K, V]).key)
	}
	v := mk()
	b.index[k] = b.order.PushFront(&entry[K, V]{key: k, val: v})
	return v
}

// put sets k's value and marks it the most recent.
func (b *bounded[K, V]) put(k K, v V) {
	if e, ok := b.index[k]; ok {
		e.Value.(*entry[K, V]).val = v
		b.order.MoveToFront(e)
		return
	}
	b.touch(k, func() V { return v })
}

func (b *bounded[K, V]) len() int { return b.order.Len() }
