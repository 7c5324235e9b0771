import ChatDevKit
import Foundation
import Testing

/// The visitor widget in a real browser: runs the pytest suite in `Tests/browser` (Selenium
/// driving Debian's headless Chromium against a system started with the `chat-dev` of this
/// build). Screenshots of the key states land in `artifacts/screenshots/`.
@Suite struct BrowserTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let chromium = "/usr/bin/chromium"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: chromium),
                   "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"),
          .timeLimit(.minutes(10)))
    func visitorWidgetInChromium() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "pytest", "-q", "-rxXs", "-p", "no:cacheprovider", "Tests/browser"]
        process.currentDirectoryURL = Self.root
        var environment = ProcessInfo.processInfo.environment
        environment["CHAT_BIN_DIR"] = DevCluster.defaultBinDirectory().path
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "pytest Tests/browser failed:\n\(text)")
    }
}
