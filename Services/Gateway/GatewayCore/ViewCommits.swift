import Synchronization

/// Wakes readers that wait for the gateway's view to move on. Another gateway may have
/// created a chat a moment ago; this gateway's view learns of it a few milliseconds later,
/// so a read that finds nothing waits for the next commits before it answers "not found".
final class ViewCommits: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waiters whose timeout came before they were registered.
        var expired: Set<Int> = []
    }

    private let state = Mutex(State())

    /// The count of commits so far; pass it to `wait(after:timeout:)` to miss none in between.
    var generation: UInt64 { state.withLock { $0.generation } }

    func committed() {
        let ready = state.withLock { state in
            state.generation += 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once a commit after `generation` happened, or after `timeout`.
    func wait(after generation: UInt64, timeout: Duration) async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        let timer = Task { [self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            release(id)
        }
        await withCheckedContinuation { continuation in
            let alreadyMoved = state.withLock { state in
                guard state.generation == generation, state.expired.remove(id) == nil else { return true }
                state.waiters[id] = continuation
                return false
            }
            if alreadyMoved { continuation.resume() }
        }
        timer.cancel()
        await timer.value
        // A timer that fired after a commit woke us leaves a mark nobody would read.
        state.withLock { _ = $0.expired.remove(id) }
    }

    private func release(_ id: Int) {
        let waiter = state.withLock { state in
            guard let waiter = state.waiters.removeValue(forKey: id) else {
                state.expired.insert(id)
                return nil as CheckedContinuation<Void, Never>?
            }
            return waiter
        }
        waiter?.resume()
    }
}
