import Foundation
import ZooCore
import ZooNN

/// One way to take a pre-trained backbone to new data: what `zoo finetune --mode auto` tries.
public enum TransferStrategy: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The frozen backbone's features, from its final pooling (`tap` nil) or a tap, and a new linear head.
    case features(tap: String?, pooling: FeaturePooling)
    /// A new classifier on the backbone, the layers `freeze` names kept as loaded, the others at `backboneRate` times
    /// the head's learning rate.
    case fineTune(freeze: FreezePolicy, backboneRate: Float)
    /// The same architecture from random weights.
    case scratch

    public var description: String {
        switch self {
        case .features(nil, _): "features from the final pooling, linear head"
        case .features(let tap?, let pooling): "features from \(tap) (\(pooling.rawValue)), linear head"
        case .fineTune(.nothing, let rate): "fine-tune everything, backbone at \(rate.formatted())× the rate"
        case .fineTune(let freeze, _): "fine-tune, \(freeze)"
        case .scratch: "from scratch"
        }
    }

    /// The order ties are broken in, cheapest first: a head on features computed once, then fine-tuning part of the
    /// network, then all of it, then training from random weights (which also gives up what the weights know).
    var cost: Int {
        switch self {
        case .features: 0
        case .fineTune(.nothing, _): 2
        case .fineTune: 1
        case .scratch: 3
        }
    }

    /// `configuration` with this strategy's mode, freezing, rates, tap and pooling (a linear head).
    public func configured(_ configuration: TransferConfiguration) -> TransferConfiguration {
        var c = configuration
        switch self {
        case .features(let tap, let pooling):
            c.mode = .features
            c.tap = tap
            c.pooling = pooling
            c.head = .linear
        case .fineTune(let freeze, let rate):
            c.mode = .finetune
            c.freeze = freeze
            c.backboneRateMultiplier = rate
        case .scratch:
            c.mode = .scratch
        }
        return c
    }

    /// The candidates for `backbone`, in the order the classic guidance (data size × similarity of the tasks) tries
    /// them. With little data per class, frozen features come first: from the final pooling, which suits a similar
    /// task, then from the stage before it, more generic; then fine-tuning the last stage, everything at 0.1× the
    /// rate, and scratch. With plenty of data, fine-tuning comes first. The earlier tap is flattened when it holds
    /// at most 4,096 values (small maps keep where things are), else averaged over its positions.
    public static func candidates(for backbone: any Backbone, inputSize: (Int, Int)? = nil, imagesPerClass: Int) throws -> [TransferStrategy] {
        var options = BackboneOptions(includeTop: false, pooling: .average)
        options.inputSize = inputSize
        let model = try backbone.skeleton(options)
        let stages = model.tapNames
        var features: [TransferStrategy] = [.features(tap: nil, pooling: .average)]
        var fineTuning: [TransferStrategy] = [.fineTune(freeze: .nothing, backboneRate: 0.1)]
        if let earlier = stages.dropLast().last {
            let shape = try TransferHead.featureShape(of: model, tap: earlier)
            features.append(.features(tap: earlier, pooling: shape.reduce(1, *) <= 4096 ? .flatten : .average))
            fineTuning.insert(.fineTune(freeze: .through(earlier), backboneRate: 1), at: 0)
        }
        let littleData = imagesPerClass < littleDataPerClass
        return (littleData ? features + fineTuning : fineTuning + features) + [.scratch]
    }

    /// Below this many training images per class, frozen features are tried first.
    public static let littleDataPerClass = 100
}

/// Tries transfer strategies on held-out data for a short budget each and picks the best: `zoo finetune --mode auto`.
public struct StrategySearch {
    public var candidates: [TransferStrategy]
    /// The plan of each trial (usually a few epochs of the full run's plan).
    public var plan: TrainingPlan
    /// Called as each trial starts: (its index, how many, the strategy).
    public var onTrial: ((Int, Int, TransferStrategy) -> Void)?
    /// Called with each trial's job before it runs, to follow its progress.
    public var onJob: ((TransferJob) -> Void)?
    /// The processes running the search together (data-parallel).
    public var group: any ProcessGroup = SingleProcess()

    public init(candidates: [TransferStrategy], plan: TrainingPlan) {
        self.candidates = candidates; self.plan = plan
    }

    /// One candidate's outcome on the validation data.
    public struct Trial: Sendable, Codable, Equatable {
        public let strategy: String
        public let top1: Double
        public let loss: Double
        public let seconds: Double
    }

    public struct Result: Sendable {
        public let trials: [Trial]
        public let chosen: TransferStrategy
        public let chosenIndex: Int

        /// The trials as a text table, the chosen one marked.
        public var table: String {
            let width = max(8, trials.map(\.strategy.count).max() ?? 0)
            let header = "strategy".padding(toLength: width, withPad: " ", startingAt: 0) + "   top-1     loss   seconds"
            let rows = trials.enumerated().map { index, trial in
                trial.strategy.padding(toLength: width, withPad: " ", startingAt: 0)
                    + String(format: "  %5.1f%%  %7.4f  %8.1f", 100 * trial.top1, trial.loss, trial.seconds)
                    + (index == chosenIndex ? "   ← chosen" : "")
            }
            return ([header] + rows).joined(separator: "\n") + "\n"
        }

        /// The trials as CSV: strategy, validation top-1 and loss, seconds, chosen.
        public var csv: String {
            (["strategy,validation_top1,validation_loss,seconds,chosen"] + trials.enumerated().map { index, trial in
                "\"\(trial.strategy)\",\(String(format: "%.6g,%.6g,%.3f", trial.top1, trial.loss, trial.seconds)),\(index == chosenIndex)"
            }).joined(separator: "\n") + "\n"
        }
    }

    /// Runs every candidate on `base` (its training and validation data, optimizer, weights) with this search's plan,
    /// writing nothing, and picks the highest validation top-1. Scores within one validation image of each other
    /// tie, and a tie goes to the cheaper strategy.
    /// In a group every rank runs every trial on its part of the data; the scores are the group's, so all choose alike.
    public func run(_ base: TransferConfiguration, formats: WeightFormatRegistry) throws -> Result {
        guard let validation = base.validation, validation.count > 0 else {
            throw DatasetError("--mode auto", "needs validation images to compare the strategies on (--validation above 0)")
        }
        var trials: [Trial] = []
        for (index, strategy) in candidates.enumerated() {
            onTrial?(index, candidates.count, strategy)
            var configuration = strategy.configured(base)
            configuration.plan = plan
            configuration.saving = false
            let job = TransferJob(configuration, formats: formats)
            job.group = group
            onJob?(job)
            let start = Date()
            let result = try job.run()
            let scores = result.validation!
            trials.append(Trial(strategy: strategy.description, top1: scores.top1, loss: scores.loss, seconds: Date().timeIntervalSince(start)))
        }
        let tie = 1 / Double(validation.count) + 1e-9
        let best = trials.map(\.top1).max()!
        let chosen = candidates.indices.filter { trials[$0].top1 >= best - tie }.min { candidates[$0].cost < candidates[$1].cost }!
        return Result(trials: trials, chosen: candidates[chosen], chosenIndex: chosen)
    }
}
