import Foundation
import Testing
import ZooTestSupport

/// The page of `zoo serve` in a real browser: Debian's Chromium, headless, driven over the W3C WebDriver protocol by
/// chromedriver (both, and curl, installed by tools/setup --tests). An example image is chosen in the page's file input; the bars that
/// come back must name zoo predict's top five with its probabilities. A screenshot of the answer is kept in
/// .build/test-artifacts/serve-page.png.
@Suite struct ServePageBrowserTests {
    static let chromium = "/usr/bin/chromium", chromedriver = "/usr/bin/chromedriver"
    static let artifact = repository.appendingPathComponent(".build/test-artifacts/serve-page.png")

    /// A chromedriver on a free port, and the WebDriver calls the test needs.
    final class Browser {
        let driver = Process()
        let base: String
        var session = ""

        init() throws {
            guard [ServePageBrowserTests.chromium, ServePageBrowserTests.chromedriver, "/usr/bin/curl"].allSatisfy(FileManager.default.isExecutableFile) else {
                throw ServeTests.ServeError("Chromium, chromedriver or curl is missing (Debian's chromium, chromium-driver, curl): run tools/setup --tests")
            }
            let port = try freePort()
            base = "http://127.0.0.1:\(port)"
            driver.executableURL = URL(fileURLWithPath: ServePageBrowserTests.chromedriver)
            driver.arguments = ["--port=\(port)"]
            driver.standardOutput = FileHandle.nullDevice
            driver.standardError = FileHandle.nullDevice
            try driver.run()
        }

        deinit { stopDriver() }

        /// chromedriver does not stop on SIGTERM: it is asked to shut down (which reaps its browser), and killed if
        /// it has not within 10 s.
        private func stopDriver() {
            guard driver.isRunning else { return }
            _ = try? runProcess(URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "--max-time", "10", base + "/shutdown"])
            for _ in 0..<100 where driver.isRunning { usleep(100_000) }
            if driver.isRunning { kill(driver.processIdentifier, SIGKILL) }
            driver.waitUntilExit()
        }

        /// One WebDriver command through curl: chromedriver writes headers without a space after the colon, which
        /// FoundationNetworking's client refuses ("Failed writing header").
        func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
            var arguments = ["-s", "-X", method, "--max-time", "60", "-w", "\n%{http_code}", base + path]
            if let body {
                arguments += ["-H", "Content-Type: application/json", "--data-binary", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)]
            }
            let result = try runProcess(URL(fileURLWithPath: "/usr/bin/curl"), arguments)
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let status = lines.last.map(String.init) ?? ""
            let data = Data(lines.dropLast().joined(separator: "\n").utf8)
            guard result.status == 0, status == "200", let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ServeTests.ServeError("WebDriver \(method) \(path): curl \(result.status), HTTP \(status): \(String(decoding: data, as: UTF8.self)) \(result.stderr)")
            }
            return object["value"]
        }

        func start() async throws {
            // chromedriver takes a moment to listen.
            for attempt in 0..<100 {
                do {
                    let value = try await call("POST", "/session", ["capabilities": ["alwaysMatch": [
                        "browserName": "chrome",
                        "goog:chromeOptions": ["binary": ServePageBrowserTests.chromium,
                                               "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=900,900"]],
                    ]]])
                    session = try #require((value as? [String: Any])?["sessionId"] as? String)
                    return
                } catch where attempt < 99 {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }

        func elements(_ selector: String) async throws -> [String] {
            let value = try await call("POST", "/session/\(session)/elements", ["using": "css selector", "value": selector])
            return (value as? [[String: Any]] ?? []).compactMap { $0.values.first as? String }
        }

        /// Waits until `selector` matches at least `count` elements.
        func waitFor(_ selector: String, count: Int = 1) async throws -> [String] {
            for _ in 0..<600 {
                let found = try await elements(selector)
                if found.count >= count { return found }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw ServeTests.ServeError("the page never showed \(count) of \(selector)")
        }

        func text(_ element: String) async throws -> String {
            try await call("GET", "/session/\(session)/element/\(element)/text") as? String ?? ""
        }

        func attribute(_ element: String, _ name: String) async throws -> String? {
            try await call("GET", "/session/\(session)/element/\(element)/attribute/\(name)") as? String
        }

        func close() async {
            if !session.isEmpty { _ = try? await call("DELETE", "/session/\(session)") }
            stopDriver()
        }
    }

    @Test func aPersonDropsAnImageAndReadsTheTopFive() async throws {
        let image = ServeTests.images.appendingPathComponent("1-trouser-1.png").path
        let predicted = try runZoo(["predict", "--weights", ServeTests.lenet, "--labels", ServeTests.labels, "--top", "5", "--json", image])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let expected = try #require((try json(predicted.stdout) as? [[String: Any]])?.first?["top"] as? [[String: Any]])

        let server = try ServeTests.Server(["--model", "lenet=\(ServeTests.lenet)", "--labels", "lenet=\(ServeTests.labels)"])
        let browser = try Browser()
        try await browser.start()
        _ = try await browser.call("POST", "/session/\(browser.session)/url", ["url": "http://127.0.0.1:\(server.port)/"])
        let sections = try await browser.waitFor("section[data-model=\"lenet\"]")
        #expect(sections.count == 1)
        let facts = try await browser.text(try #require(try await browser.elements("section[data-model=\"lenet\"] .facts").first))
        #expect(facts.contains("5 classes") && facts.contains("input"), "\(facts)")
        let input = try #require(try await browser.elements("section[data-model=\"lenet\"] input[type=file]").first)
        _ = try await browser.call("POST", "/session/\(browser.session)/element/\(input)/value", ["text": image])
        let bars = try await browser.waitFor("section[data-model=\"lenet\"] .bar", count: 5)
        #expect(bars.count == 5)
        let labels = try await browser.elements("section[data-model=\"lenet\"] .bar .label")
        #expect(labels.count == 5)
        for ((bar, labelElement), wanted) in zip(zip(bars, labels), expected) {
            let label = try await browser.text(labelElement)
            #expect(label == wanted["label"] as? String)
            let probability = Double(try await browser.attribute(bar, "data-probability") ?? "") ?? -1
            #expect(abs(probability - (wanted["probability"] as? Double ?? 2)) <= 1e-6, "\(label): \(probability)")
        }
        let time = try await browser.text(try #require(try await browser.elements("section[data-model=\"lenet\"] .time").first))
        #expect(time.hasPrefix("Answered in ") && time.hasSuffix(" ms"), "\(time)")
        let screenshot = try #require(try await browser.call("GET", "/session/\(browser.session)/screenshot") as? String)
        try FileManager.default.createDirectory(at: Self.artifact.deletingLastPathComponent(), withIntermediateDirectories: true)
        try #require(Data(base64Encoded: screenshot)).write(to: Self.artifact)
        await browser.close()
        #expect(server.stop().status == 0)
    }
}

/// A TCP port nothing listens on now (the system's choice for port 0).
func freePort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
    }
    guard bound else { throw ServeTests.ServeError("no free port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
