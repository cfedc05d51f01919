import Synchronization

/// A plugin with a registry name.
public protocol NamedPlugin: Sendable {
    var name: String { get }
}

/// Plugins in registration order, safe to extend from any thread; registering a name again replaces the earlier
/// plugin. Holds the weight formats and the backbones, built-in and third-party alike.
public final class Registry<Plugin: Sendable>: Sendable {
    private let plugins: Mutex<[Plugin]>
    private let nameOf: @Sendable (Plugin) -> String

    init(_ plugins: [Plugin], name: @escaping @Sendable (Plugin) -> String) {
        self.plugins = Mutex(plugins)
        nameOf = name
    }

    public func register(_ plugin: Plugin) {
        let name = nameOf(plugin)
        plugins.withLock { list in
            list.removeAll { nameOf($0) == name }
            list.append(plugin)
        }
    }

    public var all: [Plugin] { plugins.withLock { $0 } }
}
