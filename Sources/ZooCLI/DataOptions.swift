import ArgumentParser
import Foundation
import Synchronization
import Zoo

/// The data a command reads: where, which split, which classes, how many per class.
struct DataOptions: ParsableArguments {
    @Option(help: "fashion-mnist, or a folder: IDX files (MNIST layout), CIFAR binary batches, or a subfolder of JPEG/PNG images per class.")
    var data: String
    @Option(help: "The split of IDX or CIFAR data: train or test.") var split: String = "train"
    @Option(help: "Classes to use, relabelled from 0 in this order: 5-9, 0,2,4.") var classes: String?
    @Option(name: .customLong("per-class"), help: "At most this many images per class, chosen with --seed.") var perClass: Int?
    @Option(help: "Seed for choosing, shuffling, splitting, augmenting and initializing.") var seed: UInt64 = 0
    @Flag(help: "Stop at the first unreadable image instead of skipping it.") var strict = false

    func validate() throws {
        guard ["train", "test"].contains(split) else { throw ValidationError("--split is train or test, got '\(split)'") }
        if let perClass, perClass <= 0 { throw ValidationError("--per-class must be positive") }
    }

    /// The data set with --classes and --per-class applied.
    func dataset(split override: String? = nil) throws -> Dataset {
        var dataset = try DataSources.open(data, split: IDXFiles.Split(rawValue: override ?? split)!)
        if let classes { dataset = try dataset.selecting(classes: try ClassSelection.parse(classes, classCount: dataset.classNames.count)) }
        if let perClass { dataset = dataset.capped(perClass: perClass, seed: seed) }
        if let empty = dataset.classCounts.firstIndex(of: 0) {
            throw CLIError("\(dataset.name): class \(empty) (\(dataset.classNames[empty])) has no images")
        }
        return dataset
    }
}

/// Ctrl-C asks a long run to stop at the next batch (it saves a checkpoint and exits with status 130); a second
/// Ctrl-C exits at once.
final class Interruption: @unchecked Sendable {
    private let requested = Atomic<Bool>(false)
    private let source: DispatchSourceSignal

    init() {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [weak self] in
            guard let self else { return }
            if requested.exchange(true, ordering: .relaxed) { Foundation.exit(130) }
            FileHandle.standardError.write(Data("\ninterrupted: finishing the batch and saving a checkpoint (Ctrl-C again to quit now)\n".utf8))
        }
        source.resume()
    }

    /// A resumed source outlives its owner until cancelled.
    deinit { source.cancel() }

    var isRequested: Bool { requested.load(ordering: .relaxed) }
}
