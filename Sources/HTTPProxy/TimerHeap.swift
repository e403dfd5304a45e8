/// Pending timers of one event loop, ordered by deadline in a binary min-heap.
///
/// Cancelling only drops the action; its heap entry is skipped when it reaches the top.
struct TimerHeap {
    typealias ID = Int

    private var heap: [(deadline: UInt64, id: ID)] = []
    private var actions: [ID: () -> Void] = [:]
    private var nextID: ID = 1

    mutating func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> ID {
        let id = nextID
        nextID += 1
        actions[id] = action
        heap.append((deadline, id))
        siftUp(heap.count - 1)
        return id
    }

    mutating func cancel(_ id: ID) {
        actions[id] = nil
    }

    /// The `epoll_wait` timeout until the next live timer: -1 for none, rounded up otherwise.
    mutating func millisecondsUntilNext(now: UInt64) -> Int32 {
        while let top = heap.first, actions[top.id] == nil { popTop() }
        guard let top = heap.first else { return -1 }
        guard top.deadline > now else { return 0 }
        return Int32(min((top.deadline - now + 999_999) / 1_000_000, 60_000))
    }

    /// Removes and returns the actions of every timer whose deadline has passed, in order.
    ///
    /// The caller runs them after this returns, so that an action may schedule a new timer.
    mutating func popDue(now: UInt64) -> [() -> Void] {
        var due: [() -> Void] = []
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let action = actions.removeValue(forKey: top.id) { due.append(action) }
        }
        return due
    }

    private mutating func popTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        siftDown(0)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].deadline < heap[smallest].deadline { smallest = left }
            if right < heap.count, heap[right].deadline < heap[smallest].deadline {
                smallest = right
            }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
