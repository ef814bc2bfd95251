import Dispatch
import Synchronization

/// A bounded multi-consumer queue: the producer (the directory walker or the history walker) blocks when the
/// workers fall behind, so memory stays flat whatever the size of the tree or the history.
final class Channel<T: Sendable>: Sendable {
    private struct State {
        var items: [T] = []
        var head = 0
    }

    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)
    private let slots: DispatchSemaphore

    init(capacity: Int) { slots = DispatchSemaphore(value: capacity) }

    func push(_ item: T) {
        slots.wait()
        state.withLock { s in
            if s.head > 1024 && s.head * 2 > s.items.count {
                s.items.removeFirst(s.head)
                s.head = 0
            }
            s.items.append(item)
        }
        available.signal()
    }

    func pop() -> T? {
        available.wait()
        let item: T? = state.withLock { s in
            guard s.head < s.items.count else { return nil }
            defer { s.head += 1 }
            return s.items[s.head]
        }
        guard let item else {
            available.signal()
            return nil
        }
        slots.signal()
        return item
    }

    func close() { available.signal() }
}
