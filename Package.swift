// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Zoo",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ZooTensor", targets: ["ZooTensor"]),
        .library(name: "ZooNN", targets: ["ZooNN"]),
        .library(name: "ZooHDF5", targets: ["ZooHDF5"]),
        .library(name: "ZooCore", targets: ["ZooCore"]),
        .library(name: "ZooConverters", targets: ["ZooConverters"]),
        .library(name: "ZooModels", targets: ["ZooModels"]),
        .library(name: "ZooImaging", targets: ["ZooImaging"]),
        .library(name: "ZooTransfer", targets: ["ZooTransfer"]),
        .library(name: "ZooONNX", targets: ["ZooONNX"]),
        .library(name: "Zoo", targets: ["Zoo"]),
        .library(name: "ZooDistributed", targets: ["ZooDistributed"]),
        .library(name: "ZooServing", targets: ["ZooServing"]),
        .library(name: "ZooServer", targets: ["ZooServer"]),
        .executable(name: "zoo", targets: ["ZooCLI"]),
        .executable(name: "zoo-bench", targets: ["ZooBench"]),
        .executable(name: "zoo-reader", targets: ["ZooReader"]),
        .executable(name: "transfer-example", targets: ["TransferExample"]),
        .executable(name: "keras-model-example", targets: ["KerasModelExample"]),
        .executable(name: "getting-started-example", targets: ["GettingStartedExample"]),
    ],
    traits: [
        // Data-parallel training over MPI: `swift build --traits MPI` (needs Open MPI's libopenmpi-dev). Without it
        // nothing links MPI, and `zoo` run under `mpirun` says how to get a build that has it.
        .trait(name: "MPI", description: "Data-parallel fine-tuning and feature extraction over MPI (Open MPI)"),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        // ONNX export; its protobuf code is generated once by tools/onnx/generate and committed.
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        // Keras 1 and 2 model configs saved as YAML (`to_yaml()`).
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // API documentation: tools/docs runs `swift package generate-documentation`.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // zoo serve: the HTTP server, its metrics, multipart request bodies, the server's logger and its shutdown.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CJPEG", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CGzip", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CZooSystem"),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "CPeak"),
        .target(name: "ZooTensor", dependencies: ["CDNNL", "CZooSystem", .product(name: "RealModule", package: "swift-numerics")]),
        .target(name: "ZooNN", dependencies: ["ZooTensor"]),
        .target(name: "ZooHDF5", dependencies: ["CHDF5"]),
        .target(name: "ZooCore", dependencies: ["CCrypto", "CZooSystem", "ZooTensor", "ZooNN", .product(name: "Yams", package: "Yams")]),
        .target(
            name: "ZooConverters",
            dependencies: ["CZooSystem", "ZooCore", "ZooHDF5", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            path: "converters"),
        .target(name: "ZooModels", dependencies: ["ZooCore", "ZooNN", "ZooTensor"], path: "zoo"),
        .target(name: "ZooImaging", dependencies: ["CJPEG", "CPNG", "ZooCore", "ZooTensor"]),
        .target(name: "ZooTransfer", dependencies: ["CGzip", "ZooConverters", "ZooCore", "ZooImaging", "ZooNN", "ZooTensor"]),
        .target(name: "ZooDistributed", dependencies: [.target(name: "CMPI", condition: .when(traits: ["MPI"])), "ZooTransfer"]),
        .target(name: "ZooONNX", dependencies: ["ZooNN", "ZooTensor", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "Zoo", dependencies: ["ZooTensor", "ZooNN", "ZooCore", "ZooConverters", "ZooModels", "ZooImaging", "ZooTransfer", "ZooONNX"]),
        .target(name: "ZooServing", dependencies: ["ZooImaging", "ZooNN", "ZooTensor", "ZooTransfer"]),
        .target(
            name: "ZooServer",
            dependencies: ["ZooCore", "ZooImaging", "ZooServing", "ZooTensor", "ZooTransfer",
                           .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "MultipartKit", package: "multipart-kit"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "NIOCore", package: "swift-nio")]),
        .executableTarget(
            name: "ZooCLI",
            dependencies: ["Zoo", "ZooDistributed", "ZooServer", "ZooServing", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "ZooBench",
            dependencies: ["CPeak", "ZooTensor", "ZooNN", "ZooModels", "ZooConverters", "ZooTransfer", "ZooONNX",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "ZooReader", dependencies: ["CSeccomp", "ZooConverters", "ZooHDF5"]),
        .executableTarget(name: "TransferExample", dependencies: ["Zoo"], path: "docs/examples/transfer"),
        .executableTarget(name: "KerasModelExample", dependencies: ["Zoo"], path: "docs/examples/keras-model"),
        .executableTarget(name: "GettingStartedExample", dependencies: ["Zoo"], path: "docs/examples/getting-started"),
        .target(name: "ZooTestSupport", path: "Tests/Support"),
        .testTarget(name: "ZooTensorTests", dependencies: ["ZooTensor"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZooNNTests", dependencies: ["ZooNN"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "ZooCLITests",
            dependencies: ["ZooCLI", "ZooReader", "TransferExample", "KerasModelExample", "GettingStartedExample", "Zoo", "ZooTestSupport", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            exclude: ["weights_server.py"]),
        .testTarget(name: "ZooImagingTests", dependencies: ["ZooImaging", "ZooModels"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "ZooConvertersTests",
            dependencies: ["ZooConverters", "ZooHDF5", "ZooReader", "ZooTestSupport", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            resources: [.copy("Fixtures")]),
        // Its fixtures are read from the repository (tests read several targets' fixtures), not as bundle resources.
        .testTarget(name: "ZooModelsTests", dependencies: ["ZooModels", "ZooConverters", "ZooONNX", "ZooTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ZooTransferTests", dependencies: ["ZooTransfer", "ZooImaging"]),
        .testTarget(name: "ZooServingTests", dependencies: ["ZooServing", "ZooTensor"]),
    ]
)
