import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import ZooCore
import ZooImaging
import ZooServing
import ZooTensor
import ZooTransfer

/// Serves networks over HTTP (Hummingbird): a JSON API to list models, classify images and run prepared inputs,
/// health and readiness probes, Prometheus metrics, and a page to try the models. Every model answers through its
/// own `BatchingPredictor`, so concurrent requests share batches.
public final class ModelServer: Sendable {
    public struct Options: Sendable {
        public var host: String
        public var port: Int
        /// Request bodies above this size are refused (413).
        public var maxBodyBytes: Int
        public var batching: BatchingPredictor.Options

        public init(host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 32 << 20, batching: BatchingPredictor.Options = .init()) {
            self.host = host
            self.port = port
            self.maxBodyBytes = maxBodyBytes
            self.batching = batching
        }
    }

    /// A network to serve under `name`, with its class names when it has a classifier.
    public struct Entry {
        public let name: String
        public let network: Network
        public let classNames: [String]?

        public init(name: String, network: Network, classNames: [String]?) {
            self.name = name
            self.network = network
            self.classNames = classNames
        }
    }

    public let models: [ServedModel]
    public let options: Options
    private let byName: [String: ServedModel]
    private let metrics = ServerMetrics()
    private let draining = Mutex(false)

    public init(_ entries: [Entry], options: Options = Options()) throws {
        self.options = options
        let metrics = metrics
        models = try entries.map { entry in
            let name = entry.name
            return try ServedModel(name: name, network: entry.network, classNames: entry.classNames, options: options.batching) { batch in
                metrics.batch(model: name, batch)
            }
        }
        byName = Dictionary(models.map { ($0.name, $0) }) { first, _ in first }
    }

    /// Serves until SIGTERM or SIGINT, then finishes the requests in flight and the batches queued, and returns.
    /// `onRunning` hears the port the server listens on (the one asked for, or the one the system chose for 0).
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var logger = Logger(label: "zoo-serve")
        logger.logLevel = .warning
        let app = Application(router: router(), configuration: .init(address: .hostname(options.host, port: options.port), serverName: "zoo"),
                              onServerRunning: { [options] channel in await onRunning(channel.localAddress?.port ?? options.port) },
                              logger: logger)
        // Shut down in reverse order: the predictors first, which run what is queued at once instead of waiting for
        // fuller batches, then the server, which answers the requests in flight.
        let group = ServiceGroup(configuration: .init(services: [app, Drain(server: self)], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }

    /// Waits for the signal to shut down, then stops taking requests and answers every queued one.
    private struct Drain: Service {
        let server: ModelServer

        func run() async throws {
            try? await gracefulShutdown()
            server.draining.withLock { $0 = true }
            for model in server.models { await model.predictor.shutdown() }
        }
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .contentSecurityPolicy: Page.contentSecurityPolicy],
                     body: .init(byteBuffer: ByteBuffer(string: Page.html)))
        }
        router.get("/page.js") { _, _ in Self.text(Page.script, contentType: "text/javascript; charset=utf-8") }
        router.get("/page.css") { _, _ in Self.text(Page.css, contentType: "text/css; charset=utf-8") }
        router.get("/healthz") { _, _ in Self.text("ok\n") }
        router.get("/readyz") { [self] _, _ in
            if draining.withLock({ $0 }) { return Self.text("draining\n", status: .serviceUnavailable) }
            // Each model first compiles a plan for every batch size it pads to; requests meanwhile wait behind that.
            let warming = models.filter { !$0.predictor.isReady }.map(\.name)
            return warming.isEmpty ? Self.text("ready\n") : Self.text("warming up: \(warming.joined(separator: ", "))\n", status: .serviceUnavailable)
        }
        router.get("/metrics") { [self] _, _ in
            Self.text(metrics.text(queues: models.map { ($0.name, $0.predictor.queueDepth, $0.predictor.arriving) }), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/v1/models") { [self] _, _ in
            try Self.json(["models": models.map(\.facts)])
        }
        router.get("/v1/models/:name") { [self] _, context in
            try await answer(context, endpoint: "info") { model, _ in try Self.json(model.facts) }
        }
        router.post("/v1/models/:name/classify") { [self] request, context in
            try await answer(context, endpoint: "classify") { model, arrival in try await classify(model, request, arrival: arrival) }
        }
        router.post("/v1/models/:name/predict") { [self] request, context in
            try await answer(context, endpoint: "predict") { model, arrival in try await predict(model, request, arrival: arrival) }
        }
        return router
    }

    /// Runs `body` for the model the path names, turning every failure into a JSON error with its status, and
    /// counts the request. A request for outputs is announced to the model's predictor as soon as its head is here,
    /// so that the batch it joins waits for it while its body arrives.
    private func answer(_ context: BasicRequestContext, endpoint: String,
                        _ body: (ServedModel, BatchingPredictor.Arrival?) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let name = context.parameters.get("name") ?? ""
        let response: Response
        do {
            guard let model = byName[name] else {
                throw RequestError.notFound("no model named '\(name)'; served: " + models.map(\.name).joined(separator: ", "))
            }
            // A full queue refuses before the body is read, so that a flood of large requests holds no memory.
            let queued = model.predictor.queueDepth, limit = model.predictor.options.maxQueue
            guard queued < limit || endpoint == "info" else { throw ServingError.overloaded(queued: queued, limit: limit) }
            let arrival = endpoint == "info" ? nil : model.predictor.arrival()
            defer { arrival?.end() }
            response = try await body(model, arrival)
        } catch {
            response = Self.failure(error)
        }
        // Requests for unknown names are counted under one label, so that clients cannot grow the metrics.
        metrics.request(model: byName[name] == nil ? "(unknown)" : name, endpoint: endpoint, status: Int(response.status.code),
                        seconds: (ContinuousClock.now - start).inSeconds)
        return response
    }

    private func classify(_ model: ServedModel, _ request: Request, arrival: BatchingPredictor.Arrival?) async throws -> Response {
        let top = try request.uri.queryParameters["top"].map { text -> Int in
            guard let top = Int(text), top > 0 else { throw RequestError.badRequest("top must be a positive whole number, got '\(text)'") }
            return top
        } ?? 5
        var request = request
        let body = try await request.collectBody(upTo: options.maxBodyBytes)
        let files = try RequestParts.files(body: body, contentType: request.headers[.contentType])
        let start = ContinuousClock.now
        let rankings = try await model.classify(files: files, top: top, arrival: arrival)
        let seconds = (ContinuousClock.now - start).inSeconds
        let results = zip(files, rankings).map { file, scores in Classification(image: file.name, top: scores) }
        return try Self.json(ClassifyAnswer(model: model.name, results: results, seconds: seconds))
    }

    private func predict(_ model: ServedModel, _ request: Request, arrival: BatchingPredictor.Arrival?) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: options.maxBodyBytes)
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let inputs: [Tensor]
        if contentType.hasPrefix("application/json") {
            inputs = try jsonInputs(Data(body.readableBytesView), for: model)
        } else if contentType.hasPrefix("application/x-npy") || contentType.hasPrefix("application/octet-stream") {
            guard model.facts.inputs.count == 1 else {
                throw RequestError.badRequest("\(model.name) takes \(model.facts.inputs.count) inputs; send them as JSON (see README)")
            }
            do { inputs = [try NumPyArray.decode(Data(body.readableBytesView), name: "the request body")] } catch {
                throw RequestError.badRequest("\(error)")
            }
        } else {
            throw RequestError.unsupportedMediaType("send prepared inputs as application/json or application/x-npy, got '\(contentType)'")
        }
        let outputs = try await model.predict(inputs, arrival: arrival)
        let accept = request.headers[.accept]?.lowercased() ?? ""
        if accept.contains("application/x-npy") {
            guard outputs.count == 1 else {
                throw RequestError.notAcceptable("\(model.name) has \(outputs.count) outputs; .npy carries one, so ask for application/json")
            }
            return Response(status: .ok, headers: [.contentType: "application/x-npy"], body: .init(byteBuffer: ByteBuffer(bytes: NumPyArray.encode(outputs[0]))))
        }
        var named: [String: Any] = [:]
        for (value, output) in zip(model.facts.outputs, outputs) {
            named[value.name] = ["shape": output.shape, "data": NestedArrays.object(from: output)]
        }
        let data = try JSONSerialization.data(withJSONObject: ["model": model.name, "outputs": named], options: .withoutEscapingSlashes)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `{"inputs": ARRAY}` for a network with one input, `{"inputs": {"NAME": ARRAY, …}}` for several (or one),
    /// each ARRAY nested lists with samples first, as NumPy's `tolist()` writes them.
    private func jsonInputs(_ data: Data, for model: ServedModel) throws -> [Tensor] {
        guard let object = try? JSONSerialization.jsonObject(with: data), let root = object as? [String: Any], let inputs = root["inputs"] else {
            throw RequestError.badRequest("the body is not a JSON object with \"inputs\"")
        }
        let limit = options.maxBodyBytes / 2
        if let named = inputs as? [String: Any] {
            return try model.facts.inputs.map { input in
                guard let value = named[input.name] else {
                    throw RequestError.badRequest("\"inputs\" has no '\(input.name)'; \(model.name) takes " + model.facts.inputs.map(\.name).joined(separator: ", "))
                }
                return try NestedArrays.tensor(from: value, name: "input '\(input.name)'", maximumElements: limit)
            }
        }
        guard model.facts.inputs.count == 1 else {
            throw RequestError.badRequest("\(model.name) takes \(model.facts.inputs.count) inputs; give \"inputs\" as an object naming each: "
                + model.facts.inputs.map(\.name).joined(separator: ", "))
        }
        return [try NestedArrays.tensor(from: inputs, name: "\"inputs\"", maximumElements: limit)]
    }

    // MARK: Responses

    struct Classification: Encodable {
        let image: String
        let top: [ServedModel.Score]
    }

    struct ClassifyAnswer: Encodable {
        let model: String
        let results: [Classification]
        let seconds: Double
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    static func text(_ text: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// An error as `{"error": MESSAGE}` with the status that fits it.
    static func failure(_ error: any Error) -> Response {
        let status: HTTPResponse.Status
        var headers: HTTPFields = [.contentType: "application/json"]
        let message: String
        switch error {
        case let error as RequestError: (status, message) = (error.status, error.description)
        case let error as ServingError:
            message = error.description
            switch error {
            case .overloaded, .shuttingDown:
                status = .serviceUnavailable
                headers[.retryAfter] = "1"
            case .deadlineExceeded: status = .gatewayTimeout
            case .badInput: status = .badRequest
            }
        case is NIOTooManyBytesError: (status, message) = (.contentTooLarge, "the request body is larger than the server takes (--max-body)")
        case let error as HTTPError:
            status = error.status
            message = error.status == .contentTooLarge ? "the request body is larger than the server takes (--max-body)" : (error.body ?? error.status.reasonPhrase)
        case let error as ShapeError: (status, message) = (.badRequest, error.description)
        default: (status, message) = (.internalServerError, "\(error)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let body = (try? encoder.encode(["error": message])) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
