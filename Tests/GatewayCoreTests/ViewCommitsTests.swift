@testable import GatewayCore
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
