@testable import GatewayCore
import Foundation
import Testing

struct ViewCommitsTests {
    @Test func aWaiterWakesOnTheNextCommit() async {
        let commits = ViewCommits()
        let before = commits.generation
        async let waited: Void = commits.wait(after: before, timeout: .seconds(30))
        try? await Task.sleep(for: .milliseconds(20))
        commits.committed()
        let started = ContinuousClock.now
        await waited
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(commits.generation == before + 1)
    }

    @Test func aCommitBeforeTheWaitIsNotMissed() async {
        let commits = ViewCommits()
        let before = commits.generation
        commits.committed()
        let started = ContinuousClock.now
        await commits.wait(after: before, timeout: .seconds(30))
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func withoutCommitsTheWaitEndsAtItsTimeout() async {
        let commits = ViewCommits()
        let started = ContinuousClock.now
        await commits.wait(after: commits.generation, timeout: .milliseconds(50))
        #expect(ContinuousClock.now - started >= .milliseconds(50))
        // A later commit finds no waiter left behind.
        commits.committed()
        #expect(commits.generation == 1)
    }
}

struct TypingThrottleTests {
    @Test func typingGoesThroughOncePerIntervalAndAfterEveryStop() {
        let throttle = TypingThrottle(interval: 2)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(throttle.forward(true, key: "v c", now: start))
        #expect(!throttle.forward(true, key: "v c", now: start.addingTimeInterval(1)), "a repeat within 2 s is dropped")
        #expect(throttle.forward(true, key: "other", now: start.addingTimeInterval(1)), "keys are separate")
        #expect(throttle.forward(false, key: "v c", now: start.addingTimeInterval(1.5)))
        #expect(throttle.forward(true, key: "v c", now: start.addingTimeInterval(1.6)), "typing again after a stop goes at once")
        #expect(throttle.forward(true, key: "v c", now: start.addingTimeInterval(3.7)))
        #expect(!throttle.forward(false, key: "never", now: start), "a stop without a typing before it is not news")
    }
}
