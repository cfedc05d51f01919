import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import ZooTestSupport
import Zoo

/// `zoo serve` as a client sees it: answers equal to `zoo predict`'s, requests batched and split back, every 4xx
/// path, overload, metrics, and SIGTERM draining the queue.
@Suite struct ServeTests {
    static let lenet = repository.appendingPathComponent("examples/lenet5-relu_fashion_0-1-3-5-8.h5").path
    static let labels = repository.appendingPathComponent("examples/fashion_0-1-3-5-8.txt").path
    static let images = repository.appendingPathComponent("examples/images")
    static let userModels = repository.appendingPathComponent("Tests/ZooModelsTests/Fixtures/user-models")

    /// A `zoo serve` on a free port, and an HTTP client for it.
    final class Server: @unchecked Sendable {
        let process = Process()
        let port: Int
        private let errors: ConcurrentRead
        private let output: FileHandle

        /// `environment` replaces these variables of the test's own (nil removes one).
        init(_ arguments: [String], environment: [String: String?] = [:]) throws {
            process.executableURL = zooExecutable()
            process.arguments = ["serve", "--port", "0"] + arguments
            if !environment.isEmpty {
                var merged = ProcessInfo.processInfo.environment
                for (name, value) in environment { merged[name] = value }
                process.environment = merged
            }
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            errors = ConcurrentRead(err.fileHandleForReading)
            output = out.fileHandleForReading
            var printed = ""
            while !printed.contains("\n") {
                let chunk = readChunk(output)
                guard !chunk.isEmpty else {
                    process.waitUntilExit()
                    throw ServeError("zoo serve exited (\(process.terminationStatus)) before listening: \(String(decoding: errors.wait(), as: UTF8.self))")
                }
                printed += String(decoding: chunk, as: UTF8.self)
            }
            let first = printed.prefix { $0 != "\n" }
            guard first.hasPrefix("zoo serve: listening on http://127.0.0.1:"), let port = Int(first.split(separator: ":").last ?? "") else {
                throw ServeError("unexpected first line: \(first)")
            }
            self.port = port
        }

        /// Sends SIGTERM and returns the exit status and what the server wrote to stderr.
        func stop() -> (status: Int32, stderr: String) {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: errors.wait(), as: UTF8.self))
        }

        func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:], timeout: TimeInterval = 60) async throws
            -> (status: Int, headers: [String: String], body: Data) {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.httpMethod = method
            request.httpBody = body
            request.timeoutInterval = timeout
            for (field, value) in headers { request.setValue(value, forHTTPHeaderField: field) }
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = try #require(response as? HTTPURLResponse)
            let fields = Dictionary(http.allHeaderFields.map { ("\($0.key)".lowercased(), "\($0.value)") }) { $1 }
            return (http.statusCode, fields, data)
        }

        /// Polls `/metrics` until the model's gauge `name` reads `value` (for up to 30 s); whether it did.
        func waitForGauge(_ name: String, model: String, toReach value: Double) async throws -> Bool {
            for _ in 0..<600 {
                let metrics = String(decoding: try await request("GET", "/metrics").body, as: UTF8.self)
                let reading = metrics.split(separator: "\n").first { $0.hasPrefix("\(name){model=\"\(model)\"} ") }
                    .flatMap { Double($0.split(separator: " ").last!) }
                if reading == value { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return false
        }

        func json(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:], timeout: TimeInterval = 60) async throws
            -> (status: Int, object: Any) {
            let answer = try await request(method, path, body: body, headers: headers, timeout: timeout)
            return (answer.status, try JSONSerialization.jsonObject(with: answer.body))
        }
    }

    struct ServeError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static func png(_ name: String) throws -> Data { try Data(contentsOf: images.appendingPathComponent(name)) }

    /// Every example image sent at once, each in its own request: each answer is `zoo predict --json`'s for that
    /// image (classes, labels, probabilities within 1e-6), and the server ran them in shared batches.
    @Test func classifyAnswersAsZooPredictDoesWhileBatching() async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.images.path).filter { $0.hasSuffix(".png") }.sorted()
        let predicted = try runZoo(["predict", "--weights", Self.lenet, "--labels", Self.labels, "--top", "5", "--json"]
                                   + names.map { Self.images.appendingPathComponent($0).path })
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let expected = try #require(try json(predicted.stdout) as? [[String: Any]])
        let server = try Server(["--model", "lenet=\(Self.lenet)", "--labels", "lenet=\(Self.labels)", "--max-batch", "4", "--max-delay", "2000"])
        let answers = try await withThrowingTaskGroup(of: (Int, Int, Data).self) { group in
            for (index, name) in names.enumerated() {
                group.addTask {
                    let answer = try await server.request("POST", "/v1/models/lenet/classify?top=5", body: try Self.png(name), headers: ["Content-Type": "image/png"])
                    return (index, answer.status, answer.body)
                }
            }
            var answers: [Int: (Int, Data)] = [:]
            for try await (index, status, body) in group { answers[index] = (status, body) }
            return answers
        }
        for (index, name) in names.enumerated() {
            let (status, body) = try #require(answers[index])
            let object = try JSONSerialization.jsonObject(with: body)
            #expect(status == 200, "\(name): \(object)")
            let result = try #require(((object as? [String: Any])?["results"] as? [[String: Any]])?.first, "\(name): \(object)")
            let top = try #require(result["top"] as? [[String: Any]])
            let wanted = try #require(expected[index]["top"] as? [[String: Any]])
            #expect(top.map { $0["class"] as? Int } == wanted.map { $0["class"] as? Int }, "\(name)")
            #expect(top.map { $0["label"] as? String } == wanted.map { $0["label"] as? String }, "\(name)")
            for (served, printed) in zip(top, wanted) {
                let difference = abs((served["probability"] as? Double ?? -1) - (printed["probability"] as? Double ?? 1))
                #expect(difference <= 1e-6, "\(name): probabilities differ by \(difference)")
            }
        }
        // Two images in one multipart request: answers in order, named by their file names.
        let boundary = "zoo-test-boundary"
        var body = Data()
        for name in names.prefix(2) {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"\(name)\"\r\nContent-Type: image/png\r\n\r\n".utf8)
            body += try Self.png(name) + Data("\r\n".utf8)
        }
        body += Data("--\(boundary)--\r\n".utf8)
        let multipart = try await server.json("POST", "/v1/models/lenet/classify?top=1", body: body,
                                              headers: ["Content-Type": "multipart/form-data; boundary=\(boundary)"])
        let results = try #require((multipart.object as? [String: Any])?["results"] as? [[String: Any]], "\(multipart.object)")
        #expect(results.map { $0["image"] as? String } == names.prefix(2).map { $0 })
        #expect(results.map { (($0["top"] as? [[String: Any]])?.first?["class"] as? Int) }
                == expected.prefix(2).map { (($0["top"] as? [[String: Any]])?.first?["class"] as? Int) })

        // The batches: at least one ran several requests, and the metrics count every answer.
        let metrics = String(decoding: try await server.request("GET", "/metrics").body, as: UTF8.self)
        func value(_ series: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
        }
        let batches = try #require(value("zoo_batch_size_samples_count{model=\"lenet\"}"), "\(metrics)")
        let samples = try #require(value("zoo_batch_size_samples_sum{model=\"lenet\"}"))
        #expect(samples == Double(names.count + 2) && batches < samples, "\(samples) samples in \(batches) batches")
        #expect(value("zoo_requests_total{model=\"lenet\",endpoint=\"classify\",status=\"200\"}") == Double(names.count + 1), "\(metrics)")
        let stopped = server.stop()
        #expect(stopped.status == 0, "\(stopped.stderr)")
    }

    /// Prepared inputs of a channels-first network with two outputs, as JSON and as .npy: every output equals what
    /// `zoo predict --output` writes.
    @Test func predictReturnsEveryOutputAsZooPredictWritesThem() async throws {
        let file = Self.userModels.appendingPathComponent("two_heads_keras3_jax.h5").path
        let input = Self.userModels.appendingPathComponent("two_heads_keras3_jax.input0.npy")
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let written = try runZoo(["predict", "--weights", file, input.path, "--output", folder.appendingPathComponent("out.npy").path])
        #expect(written.status == 0, "\(written.stderr)")
        let expected = try ["policy", "value"].map { try NumPyArray.read(folder.appendingPathComponent("out.\($0).npy")) }

        let server = try Server(["--model", "heads=\(file)"])
        let info = try await server.json("GET", "/v1/models/heads")
        let facts = try #require(info.object as? [String: Any])
        #expect((facts["outputs"] as? [[String: Any]])?.map { $0["name"] as? String } == ["policy", "value"], "\(facts)")
        #expect((facts["inputs"] as? [[String: Any]])?.first?["shape"] as? [Int] == [3, 8, 8], "channels first, as Keras takes it: \(facts)")

        let array = try NumPyArray.read(input)
        let json = Data(("{\"inputs\": " + nestedJSON(array) + "}").utf8)
        for (body, contentType) in [(json, "application/json"), (try Data(contentsOf: input), "application/x-npy")] {
            let answer = try await server.json("POST", "/v1/models/heads/predict", body: body, headers: ["Content-Type": contentType])
            #expect(answer.status == 200, "\(contentType): \(answer.object)")
            let outputs = try #require((answer.object as? [String: Any])?["outputs"] as? [String: Any])
            for (name, wanted) in zip(["policy", "value"], expected) {
                let output = try #require(outputs[name] as? [String: Any], "\(name) in \(outputs.keys)")
                #expect(output["shape"] as? [Int] == wanted.shape)
                let values = flatten(output["data"] as Any)
                #expect(values.count == wanted.count)
                let deviation = zip(values, wanted.scalars).map { abs($0 - Double($1)) }.max() ?? .infinity
                #expect(deviation <= 1e-6, "\(contentType) \(name): \(deviation)")
            }
        }
        // .npy answers carry one output: a single-output network gives it, a two-output one says to ask for JSON.
        let twoOutputs = try await server.request("POST", "/v1/models/heads/predict", body: try Data(contentsOf: input),
                                                  headers: ["Content-Type": "application/x-npy", "Accept": "application/x-npy"])
        #expect(twoOutputs.status == 406 && String(decoding: twoOutputs.body, as: UTF8.self).contains("2 outputs"))
        #expect(server.stop().status == 0)

        let unet = Self.userModels.appendingPathComponent("unet_transpose_keras3.h5").path
        let unetInput = Self.userModels.appendingPathComponent("unet_transpose_keras3.input0.npy")
        let unetWritten = try runZoo(["predict", "--weights", unet, unetInput.path, "--output", folder.appendingPathComponent("mask.npy").path])
        #expect(unetWritten.status == 0, "\(unetWritten.stderr)")
        let single = try Server(["--model", "unet=\(unet)"])
        let mask = try await single.request("POST", "/v1/models/unet/predict", body: try Data(contentsOf: unetInput),
                                            headers: ["Content-Type": "application/x-npy", "Accept": "application/x-npy"])
        #expect(mask.status == 200 && mask.headers["content-type"] == "application/x-npy")
        let served = try NumPyArray.decode(mask.body, name: "the answer")
        let wanted = try NumPyArray.read(folder.appendingPathComponent("mask.npy"))
        #expect(served.shape == wanted.shape && served.maxAbsoluteDifference(wanted) <= 1e-6)
        #expect(single.stop().status == 0)
    }

    /// Every way a request can be wrong gets its 4xx status and a message naming the problem, and the server keeps
    /// answering.
    @Test func badRequestsGetAStatusAndAMessage() async throws {
        let server = try Server(["--model", "lenet=\(Self.lenet)", "--max-body", "1"])
        let image = try Self.png("0-t-shirt-top-1.png")
        let cases: [(String, String, Data?, [String: String], Int, String)] = [
            ("GET", "/v1/models/nope", nil, [:], 404, "no model named 'nope'; served: lenet"),
            ("POST", "/v1/models/nope/classify", image, [:], 404, "no model named 'nope'"),
            ("POST", "/v1/models/lenet/classify", Data("not an image".utf8), [:], 400, "is not a JPEG or PNG image"),
            ("POST", "/v1/models/lenet/classify", Data(), [:], 400, "is empty"),
            ("POST", "/v1/models/lenet/classify?top=0", image, [:], 400, "top must be a positive whole number"),
            ("POST", "/v1/models/lenet/classify", Data(count: 2 << 20), [:], 413, "larger than the server takes"),
            ("POST", "/v1/models/lenet/classify", Data("--x\r\n".utf8), ["Content-Type": "multipart/form-data"], 400, "boundary"),
            ("POST", "/v1/models/lenet/predict", Data("{}".utf8), ["Content-Type": "text/plain"], 415, "application/json or application/x-npy"),
            ("POST", "/v1/models/lenet/predict", Data("{\"inputs\": [[1, 2], [3]]}".utf8), ["Content-Type": "application/json"], 400, "not rectangular"),
            ("POST", "/v1/models/lenet/predict", Data("{\"inputs\": [[true]]}".utf8), ["Content-Type": "application/json"], 400, "where a number belongs"),
            ("POST", "/v1/models/lenet/predict", Data("{\"inputs\": [[1, 2]]}".utf8), ["Content-Type": "application/json"], 400, "takes [N, 32, 32, 1], got [1, 2]"),
            ("POST", "/v1/models/lenet/predict", Data("[".utf8), ["Content-Type": "application/json"], 400, "not a JSON object with \\\"inputs\\\""),
            ("POST", "/v1/models/lenet/predict", Data("\u{93}NUMPY\u{1}\u{0}".utf8), ["Content-Type": "application/x-npy"], 400, "the request body"),
        ]
        for (method, path, body, headers, status, message) in cases {
            let answer = try await server.request(method, path, body: body, headers: headers)
            let text = String(decoding: answer.body, as: UTF8.self)
            #expect(answer.status == status && text.contains(message), "\(method) \(path): \(answer.status) \(text)")
            if status != 413 { #expect((try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["error"] != nil, "\(text)") }
        }
        #expect(try await server.request("GET", "/healthz").status == 200)
        #expect(try await server.request("GET", "/readyz").status == 200)
        #expect(server.stop().status == 0)
    }

    /// A request whose body is still arriving holds its batch (for up to --max-delay, here 10 minutes), so two more wait
    /// queued behind it and fill a queue of two: a third is refused at once with 503 and Retry-After. SIGTERM then
    /// runs the queued two without waiting out the delay and answers them; the slow request, once its body is in, is
    /// told the server is shutting down; and the server exits 0.
    @Test func overloadIsRefusedAndSigtermDrainsTheQueue() async throws {
        let server = try Server(["--model", "lenet=\(Self.lenet)", "--max-batch", "32", "--max-delay", "600000", "--max-queue", "2",
                                 "--timeout", "3600"])
        let image = try Self.png("8-bag-1.png")
        let slow = Process(), body = Pipe(), status = Pipe()
        slow.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        slow.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-T", "-", "-H", "Content-Type: image/png", "-H", "Expect:",
                          "http://127.0.0.1:\(server.port)/v1/models/lenet/classify"]
        slow.standardInput = body
        slow.standardOutput = status
        try slow.run()
        body.fileHandleForWriting.write(image.prefix(image.count / 2))
        #expect(try await server.waitForGauge("zoo_requests_arriving", model: "lenet", toReach: 1))
        // Held until SIGTERM, which the rest of the suite can delay by minutes: no deadline, and a long client timeout.
        let queued = (0..<2).map { _ in
            Task {
                let answer = try await server.json("POST", "/v1/models/lenet/classify", body: image, timeout: 1800)
                return (answer.status, (answer.object as? [String: Any])?["seconds"] as? Double)
            }
        }
        #expect(try await server.waitForGauge("zoo_queue_depth_samples", model: "lenet", toReach: 2))
        let overload = try await server.request("POST", "/v1/models/lenet/classify", body: image)
        #expect(overload.status == 503)
        #expect(overload.headers["retry-after"] == "1" && String(decoding: overload.body, as: UTF8.self).contains("the queue is full"))
        server.process.terminate()
        for task in queued {
            let (status, seconds) = try await task.value
            #expect(status == 200)
            // The server's own time for the request (this process's tasks can wait long for a thread while the rest
            // of the suite runs): the drain ran it rather than waiting out the 10-minute delay.
            #expect(try #require(seconds) < 300, "the drain waited out the batching delay")
        }
        body.fileHandleForWriting.write(image.dropFirst(image.count / 2))
        try body.fileHandleForWriting.close()
        slow.waitUntilExit()
        #expect(String(decoding: status.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "503", "the slow request, after SIGTERM")
        let stopped = server.stop()
        #expect(stopped.status == 0, "\(stopped.stderr)")
    }

    /// The server runs with OpenMP's spinning between batches shortened (GOMP_SPINCOUNT=10000, set by starting itself
    /// afresh), unless the environment already says how OpenMP waits.
    @Test func shortensOpenMPSpinningUnlessTold() async throws {
        func environment(of server: Server) throws -> [Substring] {
            try String(contentsOfFile: "/proc/\(server.process.processIdentifier)/environ", encoding: .utf8).split(separator: "\0")
        }
        let server = try Server(["--model", "lenet=\(Self.lenet)"], environment: ["GOMP_SPINCOUNT": nil, "OMP_WAIT_POLICY": nil])
        #expect(try environment(of: server).contains("GOMP_SPINCOUNT=10000"))
        #expect(try await server.request("GET", "/healthz").status == 200)
        #expect(server.stop().status == 0)
        let told = try Server(["--model", "lenet=\(Self.lenet)"], environment: ["GOMP_SPINCOUNT": nil, "OMP_WAIT_POLICY": "passive"])
        #expect(try !environment(of: told).contains { $0.hasPrefix("GOMP_SPINCOUNT=") })
        #expect(try await told.request("GET", "/healthz").status == 200)
        #expect(told.stop().status == 0)
    }

    /// Command lines that cannot be served are refused before anything listens, each with a message naming the
    /// option and the value at fault.
    @Test func badCommandLinesAreRefused() throws {
        let unet = Self.userModels.appendingPathComponent("unet_transpose_keras3.h5").path
        let cases: [([String], String)] = [
            (["serve"], "Missing expected argument '--model <name=weights> ...'"),
            (["serve", "--model", "lenet"], "--model takes NAME=VALUE, got 'lenet'"),
            (["serve", "--model", "le net=\(Self.lenet)"], "a model name takes letters, digits, '-', '_' and '.' only"),
            (["serve", "--model", "a=\(Self.lenet)", "--model", "a=\(Self.lenet)"], "two --model options share a name"),
            (["serve", "--model", "a=\(Self.lenet)", "--labels", "b=\(Self.labels)"], "--labels, --arch or --config names 'b', which no --model serves"),
            (["serve", "--model", "unet=\(unet)", "--labels", "unet=\(Self.labels)"], "has no classifier to name the classes of"),
            (["serve", "--model", "a=\(Self.lenet)", "--max-batch", "0"], "--max-batch, --max-queue and --max-body must be positive"),
            (["serve", "--model", "a=\(Self.lenet)", "--port", "70000"], "--port must be between 0 and 65535"),
            (["serve", "--model", "a=/no/such/file.h5"], "/no/such/file.h5"),
        ]
        for (arguments, message) in cases {
            let result = try runZoo(arguments)
            #expect(result.status != 0 && result.stderr.contains(message), "\(arguments): \(result.status) \(result.stderr)")
            #expect(!result.stdout.contains("listening"))
        }
    }

    /// The page and its script come from the server itself, and the model list it reads names every model.
    @Test func servesThePageAndTheModelList() async throws {
        let server = try Server(["--model", "lenet=\(Self.lenet)", "--labels", "lenet=\(Self.labels)"])
        let page = try await server.request("GET", "/")
        let html = String(decoding: page.body, as: UTF8.self)
        #expect(page.status == 200 && html.contains("<script src=\"/page.js\"") && !html.contains("http"), "the page loads nothing from elsewhere")
        #expect(page.headers["content-security-policy"]?.contains("default-src 'none'") == true)
        #expect(try await server.request("GET", "/page.js").status == 200)
        let list = try await server.json("GET", "/v1/models")
        let models = try #require((list.object as? [String: Any])?["models"] as? [[String: Any]])
        #expect(models.count == 1 && models[0]["name"] as? String == "lenet" && models[0]["classes"] as? Int == 5)
        #expect((models[0]["class_names"] as? [String])?.first == "T-shirt/top", "\(models[0])")
        #expect(server.stop().status == 0)
    }
}

/// README's "Serving" section as written: its `zoo serve` command (on a free port instead of 8080) and then its curl
/// commands, run from a scratch folder as a reader would; each answers, and the classification names the true class.
@Test func readmeServingCommandsRunAsWritten() async throws {
    let (text, serve) = try readmeSection("Serving")
    let curls = try #require(text.components(separatedBy: "```sh\n").dropFirst(2).first?.components(separatedBy: "```").first)
    let folder = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    try FileManager.default.copyItem(at: repository.appendingPathComponent("examples"), to: folder.appendingPathComponent("examples"))
    let command = serve.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(command.hasPrefix("zoo serve "))
    // The section's command with the paths resolved in the scratch folder, through the test's Server.
    let arguments = command.dropFirst("zoo serve ".count).split(separator: " ").map { argument in
        argument.replacingOccurrences(of: "examples/", with: folder.appendingPathComponent("examples").path + "/")
    }
    let server = try ServeTests.Server(arguments)
    let result = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-euo", "pipefail", "-c", curls.replacingOccurrences(of: "localhost:8080", with: "localhost:\(server.port)")],
                                in: folder)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("\"label\":\"Trouser\"") && result.stdout.contains("\"image\":\"3-dress-1.png\"")
            && result.stdout.contains("\"outputs\":{\"predictions\"") && result.stdout.contains("zoo_requests_total"), "\(result.stdout)")
    #expect(server.stop().status == 0)
}

/// A tensor as nested JSON arrays.
private func nestedJSON(_ tensor: Tensor) -> String {
    let values = tensor.scalars
    func nest(_ axis: Int, _ offset: Int) -> String {
        guard axis < tensor.shape.count else { return "\(values[offset])" }
        let stride = tensor.shape[(axis + 1)...].reduce(1, *)
        return "[" + (0..<tensor.shape[axis]).map { nest(axis + 1, offset + $0 * stride) }.joined(separator: ",") + "]"
    }
    return nest(0, 0)
}

/// Every number in nested JSON arrays, in order.
private func flatten(_ value: Any) -> [Double] {
    if let array = value as? [Any] { return array.flatMap(flatten) }
    return [(value as? NSNumber)?.doubleValue ?? .nan]
}
